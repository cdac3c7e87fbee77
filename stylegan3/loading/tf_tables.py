"""Shared reading of TF-era generator settings and variables (StyleGAN v1 and ProGAN readers).

A TF build function receives its `static_kwargs` and creates variables whose names and shapes follow
from them. The readers here turn those settings into checked numbers (one line for anything odd) and
check the variables against one expected table (name, shape, where it goes, how its layout changes), so a
missing, misshapen, non-finite or unknown variable is refused by its TF name before any module exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stylegan3.errors import UnsupportedNetworkError

_LISTED = 3
MAX_RESOLUTION = 8192
MAX_FEATURES = 4096


@dataclass(frozen=True)
class TableEntry:
    """One expected TF variable: its shape, our tensor name and the layout change (with a note for `info`)."""

    tf_name: str
    our_name: str
    shape: tuple[int, ...]
    convert: Callable[[np.ndarray], np.ndarray]
    note: str = ""


def same(value: np.ndarray) -> np.ndarray:
    return value


def dense_t(value: np.ndarray) -> np.ndarray:
    return value.T  # [in, out] -> [out, in]


def conv_hwio(value: np.ndarray) -> np.ndarray:
    return value.transpose(3, 2, 0, 1)  # [kh, kw, in, out] -> [out, in, kh, kw]


def conv_hwoi(value: np.ndarray) -> np.ndarray:
    return value.transpose(2, 3, 0, 1)  # [kh, kw, out, in] -> [out, in, kh, kw]


def first(value: np.ndarray) -> np.ndarray:
    return value[0]


def first_two(value: np.ndarray) -> np.ndarray:
    return value[0, 0]


class Settings:
    """A build function's static_kwargs with its defaults; every read is checked and refused in one line."""

    def __init__(self, values: dict[str, Any], defaults: dict[str, Any], label: str, what: str) -> None:
        self.values, self.defaults, self.label, self.what = values, defaults, label, what

    def refuse(self, problem: str) -> UnsupportedNetworkError:
        return UnsupportedNetworkError(self.label, problem)

    def get(self, name: str) -> Any:
        value = self.values.get(name)
        return self.defaults.get(name) if value is None else value

    def raw(self, name: str) -> Any:
        """The stored value even when it is None (for settings where None means 'off', e.g. blur_filter)."""
        return self.values[name] if name in self.values else self.defaults.get(name)

    def integer(self, name: str, minimum: int, maximum: int) -> int:
        value = self.get(name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if type(value) is not int or not minimum <= value <= maximum:
            raise self.refuse(f"{self.what} setting {name}={value!r} is not an integer in {minimum}..{maximum}")
        return value

    def number(self, name: str, positive: bool = True) -> float:
        value = self.get(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
                or (positive and value <= 0):
            raise self.refuse(f"{self.what} setting {name}={value!r} is not a positive number")
        return float(value)

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if not isinstance(value, bool):
            raise self.refuse(f"{self.what} setting {name}={value!r} is not True or False")
        return value

    def choice(self, name: str, allowed: tuple[Any, ...]) -> Any:
        value = self.get(name)
        if not any(type(value) is type(a) and value == a for a in allowed):  # True is not 1, 'auto' is not True
            raise self.refuse(f"{self.what} setting {name}={value!r} is not one of {allowed}")
        return value

    def resolution(self) -> int:
        resolution = self.integer("resolution", 4, MAX_RESOLUTION)
        if resolution & (resolution - 1):
            raise self.refuse(f"{self.what} setting resolution={resolution} is not a power of two")
        return resolution

    def stage_channels(self, resolution: int) -> list[int]:
        """Feature maps per resolution 4x4 .. full, TF's nf(stage) = min(int(fmap_base / 2**(stage*decay)), max)."""
        base = self.integer("fmap_base", 1, 1 << 24)
        fmap_max = self.integer("fmap_max", 1, MAX_FEATURES)
        decay = self.number("fmap_decay", positive=False)
        if not 0 <= decay <= 4:
            raise self.refuse(f"{self.what} setting fmap_decay={decay!r} is outside 0..4")
        log2 = int(math.log2(resolution))
        channels = [min(int(base / (2.0 ** (stage * decay))), fmap_max) for stage in range(1, log2)]
        if min(channels) < 1:
            raise self.refuse(f"{self.what} settings give a layer with no feature maps (fmap_base={base})")
        return channels

    def latent_width(self, name: str, fallback: int) -> int:
        value = self.values.get(name)
        return fallback if value is None else self.integer(name, 1, MAX_FEATURES)


def lod_value(variables: dict[str, np.ndarray], name: str, max_lod: int, label: str) -> float | None:
    """A progressive-growing `lod` variable as a checked float (None when absent)."""
    value = variables.get(name)
    if value is None:
        return None
    if value.size != 1 or value.dtype.kind != "f":
        raise UnsupportedNetworkError(label, f"TensorFlow variable {name} is not a floating-point scalar")
    lod = float(value.reshape(-1)[0])
    if not math.isfinite(lod) or not 0 <= lod <= max_lod:
        raise UnsupportedNetworkError(label, f"TensorFlow variable {name}={lod:g} is outside 0..{max_lod} "
                                             "(the levels of detail this network has)")
    return lod


def check_and_convert(variables: dict[str, np.ndarray], table: list[TableEntry], ignorable: Callable[[str], bool],
                      label: str) -> dict[str, torch.Tensor]:
    """Our state dict from the TF variables, after every expected variable was found with its shape, as finite
    floats, and every other variable was one the network does not read."""
    missing = [entry.tf_name for entry in table if entry.tf_name not in variables]
    if missing:
        more = f" (+{len(missing) - _LISTED} more)" if len(missing) > _LISTED else ""
        raise UnsupportedNetworkError(label, f"TensorFlow variables missing: {', '.join(missing[:_LISTED])}{more}")
    for entry in table:
        found = variables[entry.tf_name]
        if tuple(found.shape) != entry.shape:
            raise UnsupportedNetworkError(label, f"TensorFlow variable {entry.tf_name} has shape {list(found.shape)}, "
                                                 f"expected {list(entry.shape)}")
        if found.dtype.kind != "f":
            raise UnsupportedNetworkError(label, f"TensorFlow variable {entry.tf_name} is {found.dtype}, "
                                                 "not floating point")
        if not np.isfinite(found).all():
            raise UnsupportedNetworkError(label, f"TensorFlow variable {entry.tf_name} holds NaN or infinite values")
    expected = {entry.tf_name for entry in table}
    unknown = [name for name in variables if name not in expected and not ignorable(name)]
    if unknown:
        more = f" (+{len(unknown) - _LISTED} more)" if len(unknown) > _LISTED else ""
        raise UnsupportedNetworkError(
            label, f"unexpected TensorFlow variables for this configuration: {', '.join(unknown[:_LISTED])}{more}")
    state: dict[str, torch.Tensor] = {}
    for entry in table:
        value = np.array(entry.convert(variables[entry.tf_name]), dtype=np.float32, order="C")
        state[entry.our_name] = torch.from_numpy(value)
    return state


def describe_table(table: list[TableEntry]) -> dict[str, Any]:
    """What `info` prints next to our tensors: the TF variable and the layout change of each."""
    return {
        "tf_names": {entry.our_name: entry.tf_name for entry in table},
        "tf_layout": {entry.our_name: entry.note for entry in table if entry.note},
    }
