"""StyleGAN3 (alias-free, T and R configs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stylegan3.families.base import Capabilities, Family, lazy_generator


def variant(init_kwargs: Mapping[str, Any]) -> str:
    """R nets use 1x1 convolutions with radially symmetric filters; T nets 3x3 convolutions."""
    radial = init_kwargs.get("conv_kernel", 3) == 1 or bool(init_kwargs.get("use_radial_filters", False))
    return "SG3-R" if radial else "SG3-T"


FAMILY = Family(
    name="sg3",
    title="StyleGAN3",
    generator_class=lazy_generator("stylegan3.networks.sg3"),
    capabilities=Capabilities(input_transform=True, seeded_noise=False, band_limits=True),
    marker_keys=("synthesis.input.freqs",),
    variant_of=variant,
    variants=("SG3-T", "SG3-R"),
)
