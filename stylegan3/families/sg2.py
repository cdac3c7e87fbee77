"""StyleGAN2 (orig / skip / resnet architectures, PyTorch and TensorFlow-era weights)."""

from __future__ import annotations

from stylegan3.families.base import Capabilities, Family, lazy_generator, single_variant

FAMILY = Family(
    name="sg2",
    title="StyleGAN2",
    generator_class=lazy_generator("stylegan3.networks.sg2"),
    capabilities=Capabilities(input_transform=False, seeded_noise=True, band_limits=False),
    marker_keys=("synthesis.b4.const",),
    variant_of=single_variant("SG2"),
    variants=("SG2",),
    training_only_kwargs=("fused_modconv_default", "magnitude_ema_beta"),
)
