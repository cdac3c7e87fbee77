"""StyleGAN2 (orig / skip / resnet architectures, PyTorch and TensorFlow-era weights)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stylegan3.families.base import Capabilities, Family


def variant(_init_kwargs: Mapping[str, Any]) -> str:
    return "SG2"


def _generator(**kwargs: Any):
    from stylegan3.networks.sg2 import Generator

    return Generator(**kwargs)


FAMILY = Family(
    name="sg2",
    title="StyleGAN2",
    generator_class=_generator,
    capabilities=Capabilities(input_transform=False, seeded_noise=True, band_limits=False),
    marker_keys=("synthesis.b4.const",),
    variant_of=variant,
    variants=("SG2",),
    training_only_kwargs=("fused_modconv_default", "magnitude_ema_beta"),
)
