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
    assert families.names() == ("sg3", "sg2")
