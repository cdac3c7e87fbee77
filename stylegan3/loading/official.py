"""Read NVIDIA's StyleGAN3 / StyleGAN2-ADA-PyTorch network pickles as data (`read_official_pickle`).

TensorFlow-era pickles (a `(G, D, Gs)` tuple of TF networks) are recognised after unpickling and
handed to `tf_legacy`.

The file is unpickled through `safe_unpickler` (nothing from it runs), then the generator's meta
tree is walked: the persistent-object `state` of every module holds `_parameters`, `_buffers` and
`_modules`, whose keys joined with dots are exactly the official state-dict names
(`mapping.fc0.weight`, `synthesis.L0_36_512.weight`, ...). The constructor arguments
(`_init_kwargs`) fully determine the architecture, so they and the tensors are all we keep.
"""

from __future__ import annotations

import io
import os
import pickle
import re
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from stylegan3.errors import NetworkLoadError, UnsafePickleError, UnsupportedNetworkError
from stylegan3.loading.formats import HEAD_BYTES, describe_unreadable, detect_format
from stylegan3.loading.parsed import ParsedNetwork
from stylegan3.loading.safe_unpickler import PersistentRecord, StorageRefused, restricted_load
from stylegan3.loading.tf_legacy import is_tf_pickle, read_tf_pickle

SUPPORTED_PERSISTENCE_VERSION = 6
MAX_MODULE_DEPTH = 32

# Positional order of the official Generator constructors (SG3 and SG2 agree on the first six).
_GENERATOR_POSITIONAL = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs")
_ATTR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEFINES_SYNTHESIS_INPUT = re.compile(r"^class\s+SynthesisInput\b", re.MULTILINE)


def read_official_pickle(
    source: str | os.PathLike | bytes, key: str = "G_ema", *, label: str | None = None
) -> ParsedNetwork:
    """Parse an official network pickle (path or bytes) into a `ParsedNetwork` without executing anything.

    `key` picks the network in the pickle's top-level dict ('G_ema' is the generator a viewer wants).
    Raises a `NetworkLoadError` subclass with a one-line message for anything it cannot or will not read.
    """
    if isinstance(source, (bytes, bytearray)):
        label = label or "<bytes>"
        return _parse_stream(io.BytesIO(bytes(source)), key, label)
    path = Path(source)
    label = label or str(source)
    with open_network_file(path, label) as file:
        return _parse_stream(file, key, label)


def open_network_file(path: Path, label: str) -> BinaryIO:
    """Open `path` for reading, turning the usual filesystem problems into one-line errors."""
    if not path.exists():
        raise NetworkLoadError(label, "no such file")
    if path.is_dir():
        raise NetworkLoadError(label, "is a directory, not a network file")
    try:
        return open(path, "rb")
    except OSError as exc:
        raise NetworkLoadError(label, f"cannot read the file: {exc.strerror or exc}") from None


def _parse_stream(file: BinaryIO, key: str, label: str) -> ParsedNetwork:
    head = file.read(HEAD_BYTES)
    kind = detect_format(head)
    if kind == "safetensors":
        raise UnsupportedNetworkError(label, "a .safetensors file, not a pickle (load it with load_network)")
    if kind != "pickle":
        raise NetworkLoadError(label, describe_unreadable(kind))
    file.seek(0)
    top = unpickle_safely(file, label)
    return parse_network_tree(top, key, label)


def unpickle_safely(file: BinaryIO, label: str) -> Any:
    """Restricted unpickling with every low-level failure turned into one clear line."""
    try:
        return restricted_load(file, label)
    except NetworkLoadError:
        raise
    except StorageRefused as exc:
        raise UnsafePickleError(label, str(exc)) from None
    except EOFError:
        problem = "truncated pickle (the file ends before the data does; an incomplete download?)"
    except RecursionError:
        problem = "corrupt pickle: data nested too deeply"
    except MemoryError:
        problem = "corrupt pickle: asks for more memory than is available"
    except pickle.UnpicklingError as exc:
        text = _one_line(exc)
        if "truncated" in text:
            problem = "truncated pickle (the file ends before the data does; an incomplete download?)"
        else:
            problem = f"corrupt or unsupported pickle: {text}"
    except Exception as exc:  # noqa: BLE001 - any failure inside a hostile stream is a bad file, not a bug
        problem = f"corrupt pickle: {type(exc).__name__}: {_one_line(exc)}"
    raise NetworkLoadError(label, problem) from None


def parse_network_tree(top: Any, key: str, label: str) -> ParsedNetwork:
    """From the unpickled top-level object to a `ParsedNetwork` for the network under `key`."""
    keys: list[str] = []
    if isinstance(top, PersistentRecord):
        record = top  # a bare network pickled on its own
    elif is_tf_pickle(top):
        return read_tf_pickle(top, key, label)  # a TensorFlow-era (G, D, Gs) tuple or a lone TF network
    elif isinstance(top, dict):
        keys = [str(k) for k in top]
        if key not in top:
            present = ", ".join(repr(k) for k in keys[:20]) or "nothing"
            raise UnsupportedNetworkError(label, f"no {key!r} in this pickle; it holds: {present}")
        record = top[key]
        if record is None:
            raise UnsupportedNetworkError(label, f"{key!r} is empty (None), not a generator")
    else:
        raise UnsupportedNetworkError(label, f"holds a {_type_name(top)}, not a dict of networks")
    if not isinstance(record, PersistentRecord):
        raise UnsupportedNetworkError(label, f"{key!r} holds a {_type_name(record)}, not a network")
    meta = _check_record(record, label, key)
    if record.class_name != "Generator":
        raise UnsupportedNetworkError(label, f"{key!r} holds a {record.class_name}, not a generator")

    state_dict: dict[str, torch.Tensor] = {}
    _collect_tensors(record, "", state_dict, label, 0, set())
    init_kwargs = _init_kwargs(meta["state"], label)
    kind = _detect_kind(meta, state_dict, label)
    extra: dict[str, Any] = {"source": label, "key": key, "keys": keys, "version": meta.get("version")}
    if isinstance(top, dict) and isinstance(top.get("training_set_kwargs"), dict):
        try:
            extra["training_set_kwargs"] = plain_value(top["training_set_kwargs"])
        except ValueError:
            pass
    return ParsedNetwork(kind=kind, class_name=record.class_name, init_kwargs=init_kwargs,
                         state_dict=state_dict, extra=extra)


def _check_record(record: PersistentRecord, label: str, where: str) -> dict:
    meta = record.meta
    if meta.get("type") != "class":
        problem = f"{where}: persistent object of type {meta.get('type')!r}, expected 'class'"
        raise UnsupportedNetworkError(label, problem)
    version = meta.get("version")
    if version != SUPPORTED_PERSISTENCE_VERSION:
        expected = SUPPORTED_PERSISTENCE_VERSION
        problem = f"{where}: persistence version {version!r} is not supported (expected {expected})"
        raise UnsupportedNetworkError(label, problem)
    if not isinstance(meta.get("state"), dict):
        raise UnsupportedNetworkError(label, f"{where}: network without a state dict")
    return meta


def _collect_tensors(
    record: PersistentRecord, prefix: str, out: dict[str, torch.Tensor], label: str, depth: int, seen: set[int]
) -> None:
    """Flatten a module tree into `out` with dotted names, in the order `Module.state_dict()` uses.

    A generator is a tree: a module reached twice would let a small file expand exponentially, so it is refused.
    """
    if depth > MAX_MODULE_DEPTH:
        raise UnsupportedNetworkError(label, "network modules nested too deeply")
    if id(record) in seen:
        raise UnsupportedNetworkError(label, f"module {prefix.rstrip('.') or 'generator'} appears more than once")
    seen.add(id(record))
    where = prefix.rstrip(".") or "generator"
    state = _check_record(record, label, where)["state"]
    skipped = state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        for name, tensor in _named_entries(state, group, prefix, label):
            if tensor is None or (group == "_buffers" and name in skipped):
                continue
            if not isinstance(tensor, torch.Tensor):
                raise UnsupportedNetworkError(label, f"{prefix}{name} is a {_type_name(tensor)}, not a tensor")
            out[prefix + name] = tensor
    for name, child in _named_entries(state, "_modules", prefix, label):
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            problem = f"submodule {prefix}{name} is a {_type_name(child)}, not a network layer"
            raise UnsupportedNetworkError(label, problem)
        _collect_tensors(child, f"{prefix}{name}.", out, label, depth + 1, seen)


def _named_entries(state: dict, group: str, prefix: str, label: str) -> list[tuple[str, Any]]:
    entries = state.get(group) or {}
    if not isinstance(entries, dict):
        raise UnsupportedNetworkError(label, f"{prefix}{group} is a {_type_name(entries)}, not a dict")
    for name in entries:
        if not isinstance(name, str) or not _ATTR_NAME.fullmatch(name):
            problem = f"invalid tensor or module name {name!r} under {prefix or 'generator'}"
            raise UnsupportedNetworkError(label, problem)
    return list(entries.items())


def _init_kwargs(state: dict, label: str) -> dict[str, Any]:
    kwargs = state.get("_init_kwargs")
    args = state.get("_init_args") or ()
    if not isinstance(kwargs, dict) or not isinstance(args, (tuple, list)):
        raise UnsupportedNetworkError(label, "the generator records no constructor arguments (_init_kwargs)")
    if len(args) > len(_GENERATOR_POSITIONAL):
        raise UnsupportedNetworkError(label, f"the generator has {len(args)} positional constructor arguments")
    merged = dict(zip(_GENERATOR_POSITIONAL, args, strict=False))
    merged.update(kwargs)
    try:
        return plain_value(merged)
    except ValueError as exc:
        raise UnsupportedNetworkError(label, f"constructor arguments hold non-plain data: {exc}") from None


MAX_PLAIN_NODES = 100_000  # far above any real constructor argument set; bounds shared-list bombs


def plain_value(value: Any, budget: list[int] | None = None) -> Any:
    """Constructor arguments as JSON-ready Python values (numpy scalars -> numbers, tuples -> lists)."""
    budget = [MAX_PLAIN_NODES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError("too many nested values")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ValueError("non-string key")
        return {k: plain_value(v, budget) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v, budget) for v in value]
    raise ValueError(f"a {_type_name(value)}")


def _detect_kind(meta: dict, state_dict: dict[str, torch.Tensor], label: str) -> str:
    from stylegan3 import families

    family = families.detect(state_dict)
    if family is not None:
        return family.name
    source = meta.get("module_src")
    if isinstance(source, str) and _DEFINES_SYNTHESIS_INPUT.search(source):
        return "sg3"  # read as text only; never executed
    raise UnsupportedNetworkError(
        label, "neither a StyleGAN3 nor a StyleGAN2 generator (no synthesis.input.freqs or synthesis.b4.const)"
    )


def _type_name(value: Any) -> str:
    if isinstance(value, PersistentRecord):
        return value.class_name
    return type(value).__name__


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."
