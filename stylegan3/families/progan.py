"""Progressive GAN: G_paper, read from tkarras/progressive_growing_of_gans and NVlabs/stylegan pickles.

No W space (`w_space=False`): the mapping stage only packs z and the label into the network input, so
truncation, style mixing and the W tools do not apply; no noise inputs either.
"""

from __future__ import annotations

from stylegan3.families.base import Capabilities, Family, lazy_generator, single_variant

FAMILY = Family(
    name="progan",
    title="Progressive GAN",
    generator_class=lazy_generator("stylegan3.networks.progan"),
    capabilities=Capabilities(input_transform=False, seeded_noise=False, band_limits=False, w_space=False),
    marker_keys=("synthesis.b4_dense.weight",),
    variant_of=single_variant("ProGAN"),
    variants=("ProGAN",),
)
