"""StyleGAN (v1): NVlabs/stylegan's G_style, read from TensorFlow-era pickles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stylegan3.families.base import Capabilities, Family


def variant(_init_kwargs: Mapping[str, Any]) -> str:
    return "SG1"


def _generator(**kwargs: Any):
    from stylegan3.networks.sgv1 import Generator

    return Generator(**kwargs)


FAMILY = Family(
    name="sgv1",
    title="StyleGAN",
    generator_class=_generator,
    capabilities=Capabilities(input_transform=False, seeded_noise=True, band_limits=False),
    marker_keys=("synthesis.b4.input.const",),
    variant_of=variant,
    variants=("SG1",),
)
