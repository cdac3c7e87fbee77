"""The family registry answers "which network is this" from a module, a state dict or a stored kind."""

from __future__ import annotations

import pytest
import torch

from stylegan3 import families
from stylegan3.errors import SG3Error
from tests.support.nets import tiny_net


@pytest.mark.parametrize(("kind", "family", "transform", "seeded"),
                         [("SG3-T", "sg3", True, False), ("SG3-R", "sg3", True, False), ("SG2", "sg2", False, True)])
def test_module_and_state_dict_detection_agree(kind, family, transform, seeded):
    G = tiny_net(kind, res=16)
    assert families.variant(G) == kind
    assert families.family_of(G).name == family
    assert families.detect(G.state_dict()).name == family
    caps = families.capabilities(G)
    assert (caps.input_transform, caps.seeded_noise) == (transform, seeded)
    assert families.variant_capabilities(kind) == caps
    rebuilt = families.get(family).generator_class(**G.init_kwargs)
    assert set(rebuilt.state_dict()) == set(G.state_dict())


def test_unknown_things():
    assert families.detect({"foo": torch.zeros(1)}) is None
    assert families.variant(torch.nn.Linear(2, 2)) == "other"
    assert not families.capabilities(torch.nn.Linear(2, 2)).input_transform
    with pytest.raises(SG3Error, match="unknown generator kind 'xl'"):
        families.get("xl")
    assert families.names() == ("sg3", "sg2", "sgv1", "progan")


@pytest.mark.parametrize(("family", "kwargs", "variant", "w_space"), [
    ("sgv1", dict(z_dim=4, c_dim=0, w_dim=4, img_resolution=8, img_channels=3, channels=[8, 4],
                  mapping_kwargs=dict(num_layers=1)), "SG1", True),
    ("progan", dict(z_dim=4, c_dim=2, img_resolution=8, img_channels=3, channels=[8, 4]), "ProGAN", False),
])
def test_tf_era_families(family, kwargs, variant, w_space):
    from stylegan3.networks import build_generator

    G = build_generator(family, kwargs)
    assert families.family_of(G).name == family and families.detect(G.state_dict()).name == family
    assert families.variant(G) == variant and families.variant_capabilities(variant).w_space == w_space
    caps = families.capabilities(G)
    assert not caps.input_transform and not caps.band_limits and caps.w_space == w_space
    assert set(families.get(family).generator_class(**G.init_kwargs).state_dict()) == set(G.state_dict())
