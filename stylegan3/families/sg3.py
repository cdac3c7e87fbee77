"""StyleGAN3 (alias-free, T and R configs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stylegan3.families.base import Capabilities, Family, lazy_generator


def variant(init_kwargs: Mapping[str, Any]) -> str:
    """R nets use 1x1 convolutions with radially symmetric filters; T nets 3x3 convolutions."""
    radial = init_kwargs.get("conv_kernel", 3) == 1 or bool(init_kwargs.get("use_radial_filters", False))
    return "SG3-R" if radial else "SG3-T"


def drag_layer(layers: Sequence[Any], resolution: int) -> str:
    """The first layer sampled at min(128, resolution / 2) per unit or finer: about DragGAN's choice (the 6th of
    StyleGAN2's blocks: semantic enough to follow a part, fine enough to place it within a few pixels). Earlier
    SG3 layers have few samples per unit; the last ones carry little more than the image's colours (their cutoff
    reaches the image's Nyquist), so nearest-feature tracking there follows colour, not parts. docs/DRAG.md."""
    wanted = min(128.0, resolution / 2)
    for layer in layers:
        if layer.name != "input" and layer.sampling_rate is not None and layer.sampling_rate >= wanted:
            return str(layer.name)
    return str(layers[-1].name)


FAMILY = Family(
    name="sg3",
    title="StyleGAN3",
    generator_class=lazy_generator("stylegan3.networks.sg3"),
    capabilities=Capabilities(input_transform=True, seeded_noise=False, band_limits=True),
    marker_keys=("synthesis.input.freqs",),
    variant_of=variant,
    variants=("SG3-T", "SG3-R"),
    drag_layer=drag_layer,
)
