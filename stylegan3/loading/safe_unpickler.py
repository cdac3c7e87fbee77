"""A pickle reader that turns an official network pickle into plain data and never runs its code.

Python's pickle format is a small program: `GLOBAL module name` imports any callable and `REDUCE`
calls it. NVIDIA's pickles use that to run `torch_utils.persistence._reconstruct_persistent_obj`,
which `exec`s the `module_src` string stored in the file, so a stock `pickle.load` of a downloaded
file runs whatever source the file carries. Here `find_class` only answers a short allow-list, and
every allowed name maps to a function of ours that builds inert data (dicts, tensors, numpy
values): the persistence hook returns its `meta` dict wrapped in `PersistentRecord`, tensors are
rebuilt from their storage bytes by torch's weights-only loader, numpy values from raw bytes.
Anything else is refused with `UnsafePickleError` before it is ever looked up. TensorFlow-era
pickles hold `dnnlib.tflib.network.Network` objects, which pickle as "make an empty object, then
set its state": they become `TFNetworkRecord`s keeping that state (variables as numpy arrays, the
build function's source as an inert string); ProGAN's older `tfutil.Network` becomes a
`TFUtilNetworkRecord` the same way, and an original Theano ProGAN pickle gets `UnsupportedNetworkError`,
since it is a format we do not read, not an attack.

Besides calls, a pickle can run BUILD (`__setstate__` or `setattr`) on any object it holds, so the
objects it can name are sealed against modification, and tensors are checked against their
storage sizes, so a small file cannot make us allocate a huge one.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import re
import warnings
from typing import Any, BinaryIO

import numpy as np
import torch

from stylegan3.errors import UnsafePickleError, UnsupportedNetworkError


class _Sealed(type):
    """Metaclass of every class a file can reach: a pickle BUILD must not rewrite our classes' attributes."""

    def __setattr__(cls, name: str, value: Any) -> None:
        raise pickle.UnpicklingError(f"refused to modify {cls.__name__}")

    def __delattr__(cls, name: str) -> None:
        raise pickle.UnpicklingError(f"refused to modify {cls.__name__}")


class AllowedCall:
    """An allow-listed function as a file sees it: callable, but BUILD cannot change it.

    BUILD with a slot state runs `setattr` on whatever object it is given; handing out our plain
    functions would let a file rewrite their `__defaults__` for the rest of the process.
    """

    __slots__ = ("_func",)

    def __init__(self, func: Any) -> None:
        object.__setattr__(self, "_func", func)

    def __call__(self, *args: Any) -> Any:
        return self._func(*args)

    def __setattr__(self, name: str, value: Any) -> None:
        raise pickle.UnpicklingError("refused to modify an allowed function")

    def __setstate__(self, state: Any) -> None:
        raise pickle.UnpicklingError("refused to modify an allowed function")


class PersistentRecord(metaclass=_Sealed):
    """What a persistent-class object becomes: its `meta` dict (type, version, class_name, module_src, state)."""

    __slots__ = ("meta",)

    def __init__(self, meta: Any) -> None:
        self.meta = meta

    def __setstate__(self, state: Any) -> None:
        # The official reduce carries no extra state; a file that sends one is not an official pickle.
        raise pickle.UnpicklingError("unexpected state for a persistent object")

    @property
    def class_name(self) -> str:
        name = self.meta.get("class_name") if isinstance(self.meta, dict) else None
        return name if isinstance(name, str) else "<unknown>"

    def __repr__(self) -> str:
        return f"PersistentRecord({self.class_name})"


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    """Stand-in for the persistence hook: keep `meta` as data instead of exec'ing `meta['module_src']`."""
    if not isinstance(meta, dict):
        raise pickle.UnpicklingError("persistent object without a meta dict")
    return PersistentRecord(meta)


class TFNetworkRecord(metaclass=_Sealed):
    """A TensorFlow-era `dnnlib.tflib.network.Network`: only its pickled state dict, kept as data.

    The real class execs `state['build_module_src']` in `__setstate__`; here the state is stored and
    nothing else happens. NEWOBJ creates the record without arguments, BUILD then sets the state once.
    """

    __slots__ = ("state",)

    def __new__(cls, *args: Any) -> TFNetworkRecord:
        if args:
            raise pickle.UnpicklingError("TensorFlow Network created with arguments")
        record = object.__new__(cls)
        object.__setattr__(record, "state", None)
        return record

    def __setstate__(self, state: Any) -> None:
        if self.state is not None:
            raise pickle.UnpicklingError("TensorFlow Network state set twice")
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("TensorFlow Network with a state that is not a dict")
        object.__setattr__(self, "state", state)

    def __repr__(self) -> str:
        name = self.state.get("name") if isinstance(self.state, dict) else None
        return f"TFNetworkRecord({name!r})"


class TFUtilNetworkRecord(TFNetworkRecord):
    """tkarras/progressive_growing_of_gans' `tfutil.Network` (state version 2, no components): the same record.

    A class of its own because the two writers store ProGAN's fused `Conv0_up` weight in different layouts:
    only the pickled class tells them apart."""

    __slots__ = ()


class EasyDictData(dict, metaclass=_Sealed):
    """`dnnlib.util.EasyDict` read back as a plain dict (its attributes are its keys, so state is redundant)."""

    def __setstate__(self, state: Any) -> None:
        if state is not None and not isinstance(state, dict):
            raise pickle.UnpicklingError("EasyDict with a non-dict state")


# --- tensors -------------------------------------------------------------------------------------


class StorageRefused(pickle.UnpicklingError):
    """A tensor's storage blob asks torch's weights-only reader for something other than tensor data."""


# torch's wording has changed across versions ("Unsupported global: GLOBAL x.y", "unsupported GLOBAL x.y whose ...").
_UNSUPPORTED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)", re.IGNORECASE)


def _load_storage(blob: Any) -> torch.TypedStorage:
    """Storage bytes are themselves a `torch.save` blob; torch's weights-only loader reads them safely."""
    if not isinstance(blob, (bytes, bytearray)):
        raise pickle.UnpicklingError("tensor storage is not a byte string")
    try:
        storage = torch.load(io.BytesIO(bytes(blob)), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        found = _UNSUPPORTED_GLOBAL.search(str(exc))
        what = f"'{found.group(1)}'" if found else "something other than tensor data"
        raise StorageRefused(f"refused a tensor storage that asks for {what}") from None
    if not isinstance(storage, torch.TypedStorage):
        raise pickle.UnpicklingError(f"tensor storage blob holds a {type(storage).__name__}, not a storage")
    return storage


def _check_ints(values: Any, what: str) -> tuple[int, ...]:
    if not isinstance(values, (tuple, list)) or not all(type(v) is int and v >= 0 for v in values):
        raise pickle.UnpicklingError(f"tensor {what} is not a tuple of non-negative integers")
    return tuple(values)


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_ignored: Any) -> torch.Tensor:
    """Our `_rebuild_tensor_v2`: view `size`/`stride` onto the storage after checking it stays inside it.

    `Tensor.set_` silently grows a storage that is too small, so the bounds are checked here: a
    forged size must not turn a few bytes of file into a huge allocation.
    """
    if not isinstance(storage, torch.TypedStorage):
        raise pickle.UnpicklingError("tensor without a storage")
    size = _check_ints(size, "size")
    stride = _check_ints(stride, "stride")
    if type(offset) is not int or offset < 0 or len(size) != len(stride):
        raise pickle.UnpicklingError("malformed tensor layout")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation notice
        untyped = storage._untyped_storage
        dtype = storage.dtype
    available = untyped.nbytes() // torch.empty(0, dtype=dtype).element_size()
    if 0 not in size:
        extent = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) + 1
        if extent > available:
            raise pickle.UnpicklingError(f"tensor of size {list(size)} does not fit its storage of {available}")
        # A view with more elements than its storage (stride 0) would grow when copied: refused too.
        if math.prod(size) > available:
            raise pickle.UnpicklingError(f"tensor view of size {list(size)} is larger than its storage of {available}")
    return torch.empty(0, dtype=dtype).set_(untyped, offset, size, stride)


def _rebuild_tensor_v2(
    storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False, backward_hooks: Any = None,
    metadata: Any = None,
) -> torch.Tensor:
    if backward_hooks:
        raise pickle.UnpicklingError("tensor with backward hooks")
    return _rebuild_tensor(storage, offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None) -> torch.Tensor:
    """Parameters come back as plain tensors: we copy them into our own modules anyway."""
    if not isinstance(data, torch.Tensor) or backward_hooks:
        raise pickle.UnpicklingError("malformed parameter")
    return data


# --- numpy ---------------------------------------------------------------------------------------

_NUMERIC_DTYPE = re.compile(r"^(b1|\?|[iu][1248]|f[248]|c(8|16))$")


class NumpyDtypeSpec(metaclass=_Sealed):
    """`numpy.dtype(spec, align, copy)` plus its BUILD state, restricted to plain numeric types."""

    def __init__(self, spec: Any, align: Any = False, copy: Any = False) -> None:
        if not isinstance(spec, str) or not _NUMERIC_DTYPE.match(spec):
            raise pickle.UnpicklingError(f"numpy dtype {spec!r} is not a plain numeric type")
        self.dtype = np.dtype(spec)

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) < 5 or any(x is not None for x in state[2:5]):
            raise pickle.UnpicklingError("structured or unusual numpy dtype")
        order = state[1]
        if order in ("<", ">"):
            self.dtype = self.dtype.newbyteorder(order)
        elif order not in ("|", "="):
            raise pickle.UnpicklingError(f"numpy dtype byte order {order!r}")


def _np_scalar(dtype: Any, data: Any = None) -> Any:
    """A numpy scalar from its raw bytes, returned as the equivalent Python number."""
    if not isinstance(dtype, NumpyDtypeSpec) or not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("malformed numpy scalar")
    if len(data) != dtype.dtype.itemsize:
        raise pickle.UnpicklingError("numpy scalar of the wrong byte size")
    return np.frombuffer(bytes(data), dtype=dtype.dtype)[0].item()


class _NdarrayType(metaclass=_Sealed):
    """Stands for `numpy.ndarray` in a pickle; only meaningful as the first argument of `_reconstruct`."""

    def __init__(self, *args: Any) -> None:
        raise pickle.UnpicklingError("numpy.ndarray called directly")


class NumpyArrayData(metaclass=_Sealed):
    """An array under construction: `_reconstruct` makes it, BUILD fills it from raw bytes."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) != 5:
            raise pickle.UnpicklingError("malformed numpy array state")
        _version, shape, dtype, fortran, raw = state
        shape = _check_ints(shape, "array shape")
        if not isinstance(dtype, NumpyDtypeSpec) or not isinstance(raw, (bytes, bytearray)):
            raise pickle.UnpicklingError("numpy array of a non-numeric dtype")
        if math.prod(shape) * dtype.dtype.itemsize != len(raw):
            raise pickle.UnpicklingError("numpy array data of the wrong byte size")
        flat = np.frombuffer(bytes(raw), dtype=dtype.dtype)
        self.array = flat.reshape(shape, order="F" if fortran else "C").copy()


def _np_reconstruct(subtype: Any, shape: Any = None, dtype_code: Any = None) -> NumpyArrayData:
    if subtype is not _NdarrayType:
        raise pickle.UnpicklingError("numpy _reconstruct of something other than ndarray")
    return NumpyArrayData()


def _np_frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any = "C") -> np.ndarray:
    """Protocol 5 writes numpy arrays as a byte buffer plus dtype, shape and order."""
    if isinstance(buffer, pickle.PickleBuffer):
        buffer = buffer.raw()
    if not isinstance(buffer, (bytes, bytearray, memoryview)) or not isinstance(dtype, NumpyDtypeSpec):
        raise pickle.UnpicklingError("malformed numpy buffer")
    shape = _check_ints(shape, "array shape")
    raw = bytes(buffer)
    if math.prod(shape) * dtype.dtype.itemsize != len(raw) or order not in ("C", "F"):
        raise pickle.UnpicklingError("numpy buffer of the wrong byte size")
    return np.frombuffer(raw, dtype=dtype.dtype).reshape(shape, order=order).copy()


# --- bytes in protocol 2 (Python 3 writes them as codecs.encode(text, 'latin1') calls) ----------------


def _latin1_bytes(text: Any, encoding: Any = None) -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("codecs.encode is only accepted for latin1 byte strings")
    return text.encode("latin1")


def _set_of(items: Any = ()) -> set:
    if not isinstance(items, (list, tuple)):
        raise pickle.UnpicklingError("set() is only accepted from a list")
    return set(items)


def _empty_bytes(*args: Any) -> bytes:
    if args:
        raise pickle.UnpicklingError("bytes() is only accepted without arguments")
    return b""


# --- the allow-list ------------------------------------------------------------------------------

_TORCH_DTYPES = {
    name: getattr(torch, name)
    for name in (
        "float16", "float32", "float64", "bfloat16", "half", "float", "double",
        "int8", "int16", "int32", "int64", "uint8", "bool",
    )
}

_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMPY_NUMERIC = ("numpy.core.numeric", "numpy._core.numeric")

# Everything a file may name, and what it gets instead. Classes here are sealed (`_Sealed`) or
# immutable builtins; functions are wrapped in `AllowedCall`; dtypes are immutable torch objects.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): AllowedCall(_reconstruct_persistent_obj),
    ("dnnlib.util", "EasyDict"): EasyDictData,
    ("dnnlib.tflib.network", "Network"): TFNetworkRecord,
    ("tfutil", "Network"): TFUtilNetworkRecord,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): AllowedCall(_rebuild_tensor_v2),
    ("torch._utils", "_rebuild_tensor"): AllowedCall(_rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): AllowedCall(_rebuild_parameter),
    ("torch.storage", "_load_from_bytes"): AllowedCall(_load_storage),
    ("_codecs", "encode"): AllowedCall(_latin1_bytes),
    ("builtins", "bytes"): AllowedCall(_empty_bytes),
    ("__builtin__", "bytes"): AllowedCall(_empty_bytes),
    ("builtins", "set"): AllowedCall(_set_of),
    ("__builtin__", "set"): AllowedCall(_set_of),
    ("numpy", "dtype"): NumpyDtypeSpec,
    ("numpy", "ndarray"): _NdarrayType,
    **{(prefix, "scalar"): AllowedCall(_np_scalar) for prefix in _NUMPY_CORE},
    **{(prefix, "_reconstruct"): AllowedCall(_np_reconstruct) for prefix in _NUMPY_CORE},
    **{(prefix, "_frombuffer"): AllowedCall(_np_frombuffer) for prefix in _NUMPY_NUMERIC},
    **{("torch", name): dtype for name, dtype in _TORCH_DTYPES.items()},
}

# Formats we recognise by their classes but do not read: one line naming what the file is.
_KNOWN_UNSUPPORTED_GLOBALS = {
    ("network", "Network"): "an original Theano ProGAN pickle (network.Network); only the TensorFlow releases "
                            "(tfutil.Network) are read",
}


class RestrictedUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose `find_class` answers only `ALLOWED_GLOBALS`; `source` names the file in errors."""

    def __init__(self, file: BinaryIO, source: str) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        found = ALLOWED_GLOBALS.get((module, name))
        if found is not None:
            return found
        known = _KNOWN_UNSUPPORTED_GLOBALS.get((module, name))
        if known is not None:
            raise UnsupportedNetworkError(self.source, known)
        raise UnsafePickleError(
            self.source, f"refused to load '{module}.{name}': not something a network pickle may contain"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(self.source, "refused a persistent id: not a plain network pickle")


def finalize(obj: Any, max_storage_bytes: int | None = None) -> Any:
    """Replace construction helpers (numpy arrays in progress, EasyDicts) by plain values, recursively.

    Shared sub-objects are converted once (a file can reference one list from many places, which
    would otherwise blow up exponentially); cycles and absurd nesting are refused. Every tensor
    storage must be at most `max_storage_bytes` (the file size: storage bytes come from the file,
    so a bigger one was grown by a BUILD calling `Tensor.set_`).
    """
    done: dict[int, Any] = {}
    active: set[int] = set()

    def convert(item: Any, depth: int) -> Any:
        if isinstance(item, torch.Tensor):
            if max_storage_bytes is not None and item.untyped_storage().nbytes() > max_storage_bytes:
                raise pickle.UnpicklingError("a tensor claims more memory than the file holds")
            return item
        if not isinstance(item, (NumpyArrayData, NumpyDtypeSpec, PersistentRecord, TFNetworkRecord, dict, list, tuple)):
            return item
        key = id(item)
        if key in done:
            return done[key]
        if key in active or depth > 200:
            raise pickle.UnpicklingError("data nested too deeply or cyclic")
        active.add(key)
        if isinstance(item, NumpyArrayData):
            if item.array is None:
                raise pickle.UnpicklingError("numpy array without data")
            result: Any = item.array
        elif isinstance(item, NumpyDtypeSpec):
            result = item.dtype
        elif isinstance(item, PersistentRecord):
            item.meta = convert(item.meta, depth + 1)
            result = item
        elif isinstance(item, TFNetworkRecord):
            if item.state is None:
                raise pickle.UnpicklingError("TensorFlow Network without a state")
            object.__setattr__(item, "state", convert(item.state, depth + 1))
            result = item
        elif isinstance(item, collections.OrderedDict):
            result = collections.OrderedDict((k, convert(v, depth + 1)) for k, v in item.items())
        elif isinstance(item, dict):
            result = {k: convert(v, depth + 1) for k, v in item.items()}
        elif isinstance(item, list):
            result = [convert(v, depth + 1) for v in item]
        else:
            result = tuple(convert(v, depth + 1) for v in item)
        active.discard(key)
        done[key] = result
        return result

    return convert(obj, 0)


def restricted_load(file: BinaryIO, source: str) -> Any:
    """Unpickle `file` through the allow-list and return plain data (see module docstring)."""
    start = file.tell()
    size = file.seek(0, io.SEEK_END) - start
    file.seek(start)
    return finalize(RestrictedUnpickler(file, source).load(), max_storage_bytes=size)
