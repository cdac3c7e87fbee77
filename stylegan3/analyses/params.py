"""Typed, validated parameters of the analyses that run next to the network.

Why a dataclass per analysis instead of a free-form dict: the params arrive from a client over the wire, so
an unknown name, a string where a number belongs or a sample count of a million must become one clear error
reply (naming the field) before any work starts, not an exception deep inside a computation that takes the
renderer's time. Missing fields take the defaults (a client sends only what it changes).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from stylegan3.documents import jsoncodec
from stylegan3.errors import SG3Error

T = TypeVar("T")


class ParamsError(SG3Error):
    """Parameters of an analysis that are unknown, of the wrong type or out of range (one line)."""


def parse_params(cls: type[T], params: dict[str, Any] | None, what: str) -> T:
    """`cls` from `params` on top of its defaults; ParamsError naming the field otherwise."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ParamsError(f"{what}: params must be an object, got {type(params).__name__}")
    defaults = {f.name: jsoncodec.to_plain(getattr(cls(), f.name)) for f in dataclasses.fields(cls)}
    try:
        return jsoncodec.from_plain(cls, {**defaults, **params}, what)
    except jsoncodec.CodecError as exc:
        raise ParamsError(str(exc)) from None


def check_range(name: str, value: float, lo: float, hi: float) -> None:
    """ValueError (turned into a ParamsError naming the analysis) when `value` is outside [lo, hi]."""
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo:g}..{hi:g}, got {value:g}")


def check_transform_path(name: str, spec: str) -> None:
    """ValueError naming the field for a transform path spec (`stylegan3.explore.interpolation`) that is too long
    or does not parse; an empty spec is no path."""
    if len(spec) > 500:
        raise ValueError(f"{name}: at most 500 characters")
    if spec.strip():
        from stylegan3.explore.interpolation import parse_transform_path

        try:
            parse_transform_path(spec)
        except Exception as exc:  # noqa: BLE001 - the spec's own message names the bad part
            raise ValueError(f"{name}: {exc}") from None
