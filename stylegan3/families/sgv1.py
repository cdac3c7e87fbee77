"""StyleGAN (v1): NVlabs/stylegan's G_style, read from TensorFlow-era pickles."""

from __future__ import annotations

from stylegan3.families.base import Capabilities, Family, lazy_generator, single_variant

FAMILY = Family(
    name="sgv1",
    title="StyleGAN",
    generator_class=lazy_generator("stylegan3.networks.sgv1"),
    capabilities=Capabilities(input_transform=False, seeded_noise=True, band_limits=False),
    marker_keys=("synthesis.b4.input.const",),
    variant_of=single_variant("SG1"),
    variants=("SG1",),
)
