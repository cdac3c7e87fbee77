"""Writers of official-layout network pickles from our own networks, for self-contained loader tests.

NVIDIA's pickles reduce every network module to `torch_utils.persistence._reconstruct_persistent_obj(meta)`
and hold a `dnnlib.util.EasyDict`. To write the same byte layout without NVIDIA's code, stand-in
modules with those names are put in `sys.modules` while pickling only (pickle records a global by
module and name). The tests in this file check that the fake files ask for the same kind of
globals as a real one, so the loader tests built on them mean something.
"""

from __future__ import annotations

import collections
import contextlib
import pickle
import sys
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from stylegan3.loading.safe_unpickler import ALLOWED_GLOBALS, RestrictedUnpickler

SMALL_KWARGS: dict[str, dict[str, Any]] = {
    "sg3t": dict(z_dim=8, w_dim=8, c_dim=0, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                 channel_base=256, channel_max=16, conv_kernel=3, use_radial_filters=False),
    "sg3r": dict(z_dim=8, w_dim=8, c_dim=0, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                 channel_base=256, channel_max=16, conv_kernel=1, use_radial_filters=True),
    "sg2": dict(z_dim=8, w_dim=8, c_dim=2, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                channel_base=256, channel_max=16),
}
KIND = {"sg3t": "sg3", "sg3r": "sg3", "sg2": "sg2"}
SG3_MODULE_SRC = "# stand-in module source written for tests\nclass SynthesisInput:\n    pass\n"
SG2_MODULE_SRC = "# stand-in module source written for tests\nclass SynthesisBlock:\n    pass\n"


def _reconstruct_persistent_obj(meta):  # never called: only its module and name are pickled
    raise AssertionError("the loader must not call the persistence hook")


class EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict (pickled by name, as a dict subclass)."""


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
EasyDict.__module__ = "dnnlib.util"


@contextlib.contextmanager
def official_module_names() -> Iterator[None]:
    """Temporarily make `torch_utils.persistence` and `dnnlib.util` importable by name for pickle."""
    fakes = {
        "torch_utils": types.ModuleType("torch_utils"),
        "torch_utils.persistence": types.ModuleType("torch_utils.persistence"),
        "dnnlib": types.ModuleType("dnnlib"),
        "dnnlib.util": types.ModuleType("dnnlib.util"),
    }
    fakes["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
    fakes["dnnlib.util"].EasyDict = EasyDict
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class Persistent:
    """Pickles exactly like an official persistent-class object: a reduce to the hook with a meta dict."""

    def __init__(self, class_name: str, state: dict, module_src: str = "", version: int = 6,
                 type_: str = "class") -> None:
        self.meta = dict(type=type_, version=version, module_src=module_src, class_name=class_name, state=state)

    def __reduce__(self):
        return (_reconstruct_persistent_obj, (self.meta,))


def module_state(module: torch.nn.Module) -> dict:
    """The `__dict__`-like state an official pickle stores for a torch module (tensors, children, hooks)."""
    return {
        "training": False,
        "_parameters": collections.OrderedDict(module._parameters),
        "_buffers": collections.OrderedDict(module._buffers),
        "_non_persistent_buffers_set": set(module._non_persistent_buffers_set),
        "_backward_hooks": collections.OrderedDict(),
        "_forward_hooks": collections.OrderedDict(),
        "_forward_pre_hooks": collections.OrderedDict(),
        "_state_dict_hooks": collections.OrderedDict(),
        "_modules": collections.OrderedDict(),
    }


def to_persistent(module: torch.nn.Module, module_src: str, init_kwargs: dict | None = None) -> Persistent:
    """Mirror a module tree as persistent objects, class names and tensor names kept."""
    state = module_state(module)
    for name, child in module._modules.items():
        state["_modules"][name] = None if child is None else to_persistent(child, module_src)
    for attr in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "num_ws"):
        if hasattr(module, attr) and isinstance(getattr(module, attr), int):
            state[attr] = getattr(module, attr)
    if init_kwargs is not None:
        state["_init_args"] = ()
        state["_init_kwargs"] = init_kwargs
    return Persistent(type(module).__name__, state, module_src)


def make_generator(name: str, seed: int = 0) -> torch.nn.Module:
    """A small generator of ours with every tensor perturbed (so a dropped or swapped tensor shows)."""
    from stylegan3.networks import build_generator

    torch.manual_seed(seed)
    G = build_generator(KIND[name], dict(SMALL_KWARGS[name]))
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for tensor in G.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(0.01 * torch.randn(tensor.shape, generator=gen))
    return G.eval().requires_grad_(False)


def official_init_kwargs(name: str) -> dict:
    """Constructor kwargs as an official file stores them (SG3's EMA beta is a numpy float64)."""
    kwargs = dict(SMALL_KWARGS[name])
    if KIND[name] == "sg3":
        kwargs["magnitude_ema_beta"] = np.float64(0.5) ** (32 / 20_000)
    return kwargs


def fake_discriminator() -> Persistent:
    state = module_state(torch.nn.Module())
    state["_parameters"]["weight"] = torch.nn.Parameter(torch.ones(2, 3), requires_grad=False)
    state["block_resolutions"] = np.array([16, 8, 4], dtype=np.int64)  # a numpy array, as data
    return Persistent("Discriminator", state, SG3_MODULE_SRC)


def official_tree(G: torch.nn.Module, name: str, module_src: str | None = None) -> Persistent:
    src = module_src if module_src is not None else (SG3_MODULE_SRC if KIND[name] == "sg3" else SG2_MODULE_SRC)
    return to_persistent(G, src, official_init_kwargs(name))


def official_top(G_ema: Any, **overrides: Any) -> dict:
    """The top-level dict of a training snapshot."""
    top = {"G": None, "D": fake_discriminator(), "G_ema": G_ema, "augment_pipe": None,
           "training_set_kwargs": EasyDict(resolution=16, use_labels=False)}
    top.update(overrides)
    return top


def dump_official(obj: Any) -> bytes:
    """Pickle `obj` with protocol 4 (as NVIDIA's files are), resolving the stand-in module names."""
    with official_module_names():
        return pickle.dumps(obj, protocol=4)


def official_pickle_bytes(G: torch.nn.Module, name: str, **overrides: Any) -> bytes:
    return dump_official(official_top(official_tree(G, name), **overrides))


class _RecordingUnpickler(RestrictedUnpickler):
    def __init__(self, file, source):
        super().__init__(file, source)
        self.asked: set[tuple[str, str]] = set()

    def find_class(self, module, name):
        self.asked.add((module, name))
        return super().find_class(module, name)


def asked_globals(data: bytes) -> set[tuple[str, str]]:
    import io

    unpickler = _RecordingUnpickler(io.BytesIO(data), "test")
    unpickler.load()
    return unpickler.asked


# --- tests of the writers themselves --------------------------------------------------------------


def test_fake_pickle_asks_for_the_official_globals_only():
    G = make_generator("sg3t")
    asked = asked_globals(official_pickle_bytes(G, "sg3t"))
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
    fake = asked_globals(official_pickle_bytes(make_generator("sg3t"), "sg3t"))
    assert real <= fake
    assert real <= set(ALLOWED_GLOBALS)


def test_stand_in_modules_are_removed_after_pickling():
    official_pickle_bytes(make_generator("sg2"), "sg2")
    assert "torch_utils.persistence" not in sys.modules
    assert "dnnlib.util" not in sys.modules
