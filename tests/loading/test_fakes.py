"""The official-layout pickle writers of tests/support/official_fakes.py against what a real file asks for,
so the loader tests built on them mean something."""

from __future__ import annotations

import sys

import pytest

from stylegan3.loading.safe_unpickler import ALLOWED_GLOBALS
from tests.support.nets import tiny_net
from tests.support.official_fakes import asked_globals, official_pickle_bytes


def test_fake_pickle_asks_for_the_official_globals_only():
    G = tiny_net("SG3-T", res=16, perturb=0.01)
    asked = asked_globals(official_pickle_bytes(G))
    assert asked <= set(ALLOWED_GLOBALS)
    for expected in [
        ("torch_utils.persistence", "_reconstruct_persistent_obj"),
        ("dnnlib.util", "EasyDict"),
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch.storage", "_load_from_bytes"),
        ("numpy", "dtype"),
    ]:
        assert expected in asked
    assert any(name == "scalar" for _, name in asked)
    assert any(name == "_reconstruct" for _, name in asked)


@pytest.mark.fixtures
def test_fake_pickle_globals_match_a_real_file(fixtures_dir):
    """Every global a real NVIDIA file asks for is also exercised by the fake (plus numpy arrays/EasyDict)."""
    real = asked_globals((fixtures_dir / "sg3t.pkl").read_bytes())
    fake = asked_globals(official_pickle_bytes(tiny_net("SG3-T", res=16, perturb=0.01)))
    assert real <= fake
    assert real <= set(ALLOWED_GLOBALS)


def test_stand_in_modules_are_removed_after_pickling():
    official_pickle_bytes(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))
    assert "torch_utils.persistence" not in sys.modules
    assert "dnnlib.util" not in sys.modules
