"""StyleGAN2 (orig / skip / resnet architectures, PyTorch and TensorFlow-era weights)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stylegan3.families.base import Capabilities, Family, lazy_generator, single_variant


def drag_layer(layers: Sequence[Any], resolution: int) -> str:
    """DragGAN's layer: the output of the 6th synthesis block (b4 first: the 128² block; its second convolution,
    the block's output in the skip architecture), or of the block at half the image's size for nets smaller than
    256². docs/DRAG.md."""
    block = min(128, max(4, resolution // 2))
    return f"b{block}.conv1"


FAMILY = Family(
    name="sg2",
    title="StyleGAN2",
    generator_class=lazy_generator("stylegan3.networks.sg2"),
    capabilities=Capabilities(input_transform=False, seeded_noise=True, band_limits=False),
    marker_keys=("synthesis.b4.const",),
    variant_of=single_variant("SG2"),
    variants=("SG2",),
    training_only_kwargs=("fused_modconv_default", "magnitude_ema_beta"),
    drag_layer=drag_layer,
)
