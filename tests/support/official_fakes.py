"""Writers of official-layout network pickles from our own networks (`tests.support.nets`), so the loader tests
need no NVIDIA file.

NVIDIA's pickles reduce every network module to `torch_utils.persistence._reconstruct_persistent_obj(meta)`
and hold a `dnnlib.util.EasyDict`. To write the same byte layout without NVIDIA's code, stand-in
modules with those names are put in `sys.modules` while pickling only (pickle records a global by
module and name). tests/loading/test_fakes.py checks that the fake files ask for the same kind of
globals as a real one, so the loader tests built on them mean something.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import pickle
from typing import Any

import numpy as np
import torch

from stylegan3.loading.safe_unpickler import RestrictedUnpickler
from tests.support.fake_modules import fake_modules

SG3_MODULE_SRC = "# stand-in module source written for tests\nclass SynthesisInput:\n    pass\n"
SG2_MODULE_SRC = "# stand-in module source written for tests\nclass SynthesisBlock:\n    pass\n"


def _reconstruct_persistent_obj(meta):  # never called: only its module and name are pickled
    raise AssertionError("the loader must not call the persistence hook")


class EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict (pickled by name, as a dict subclass)."""


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
EasyDict.__module__ = "dnnlib.util"


def official_module_names() -> contextlib.AbstractContextManager[None]:
    """Temporarily make `torch_utils.persistence` and `dnnlib.util` importable by name for pickle."""
    return fake_modules({
        "torch_utils": {},
        "torch_utils.persistence": {"_reconstruct_persistent_obj": _reconstruct_persistent_obj},
        "dnnlib": {},
        "dnnlib.util": {"EasyDict": EasyDict},
    })


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


def official_init_kwargs(G: torch.nn.Module) -> dict:
    """`G`'s constructor kwargs as an official file stores them (SG3's EMA beta is a numpy float64)."""
    kwargs = copy.deepcopy(G.init_kwargs)
    if G.kind == "sg3":
        kwargs["magnitude_ema_beta"] = np.float64(0.5) ** (32 / 20_000)
    return kwargs


def fake_discriminator() -> Persistent:
    """A snapshot's D entry, holding a numpy array as data (the loader must read past it, never build it)."""
    state = module_state(torch.nn.Module())
    state["_parameters"]["weight"] = torch.nn.Parameter(torch.ones(2, 3), requires_grad=False)
    state["block_resolutions"] = np.array([16, 8, 4], dtype=np.int64)  # a numpy array, as data
    return Persistent("Discriminator", state, SG3_MODULE_SRC)


def official_tree(G: torch.nn.Module, module_src: str | None = None) -> Persistent:
    """`G` as the persistent-object tree of an official file (its family's module source unless given)."""
    src = module_src if module_src is not None else (SG3_MODULE_SRC if G.kind == "sg3" else SG2_MODULE_SRC)
    return to_persistent(G, src, official_init_kwargs(G))


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


def official_pickle_bytes(G: torch.nn.Module, **overrides: Any) -> bytes:
    """The bytes of an official training snapshot holding `G` as G_ema (top-level entries replaced by `overrides`)."""
    return dump_official(official_top(official_tree(G), **overrides))


class _RecordingUnpickler(RestrictedUnpickler):
    def __init__(self, file, source):
        super().__init__(file, source)
        self.asked: set[tuple[str, str]] = set()

    def find_class(self, module, name):
        self.asked.add((module, name))
        return super().find_class(module, name)


def asked_globals(data: bytes) -> set[tuple[str, str]]:
    """Every (module, name) global that unpickling `data` asks for: what a file needs the loader to allow."""
    import io

    unpickler = _RecordingUnpickler(io.BytesIO(data), "test")
    unpickler.load()
    return unpickler.asked
