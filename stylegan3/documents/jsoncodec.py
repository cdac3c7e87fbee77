"""Strict JSON <-> frozen dataclass conversion, driven by the type hints.

Why not `dataclasses.asdict` + `cls(**d)`: that turns tuples into lists (so a round trip no longer gives an
equal object), accepts `True` where an int is meant, and reports a bad file as a TypeError deep in a
constructor. Here every field of the JSON must be present, known and of the declared type, and the error
names the dotted path of the field (`latent.mix_ws[2]: expected int, got 'a'`).

`from_plain_all` is the forgiving reader of files people write by hand (timelines): it reports every problem
at once instead of the first, and optionally lets fields with a default be left out.

Supported field types: bool, int, float (ints accepted), str, `X | None`, `tuple[X, ...]`, `tuple[X, Y]`,
`dict[str, X]`, `Literal[...]` and nested dataclasses. Non-finite floats are refused (JSON has no spelling).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from stylegan3.errors import SG3Error

T = TypeVar("T")


class CodecError(SG3Error):
    """A JSON document does not match the dataclass it should describe (one line, names the field)."""


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    return hints


def to_plain(obj: Any) -> Any:
    """A dataclass (or value) as JSON-ready dicts, lists and scalars, fields in declaration order."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, float) and not math.isfinite(obj):
        raise CodecError(f"cannot write the non-finite number {obj} as JSON")
    return obj


def from_plain(cls: type[T], data: Any, path: str = "") -> T:
    """Build `cls` from plain data, refusing unknown, missing and wrongly typed fields."""
    return _convert(cls, data, path or cls.__name__)


def dumps(obj: Any, indent: int | None = None) -> str:
    return json.dumps(to_plain(obj), indent=indent, allow_nan=False)


def loads(cls: type[T], text: str | bytes, what: str = "document") -> T:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CodecError(f"{what} is not valid JSON ({exc})") from None
    return from_plain(cls, data, cls.__name__)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _fail(path: str, expected: str, value: Any) -> CodecError:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return CodecError(f"{path}: expected {expected}, got {shown} ({_type_name(value)})")


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return _convert_dataclass(tp, value, path)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None:
            if type(None) in options:
                return None
            raise _fail(path, " or ".join(_describe(o) for o in options), value)
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, path)
            except CodecError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else _fail(path, " or ".join(_describe(o) for o in options), value)
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            raise CodecError(f"{path}: expected one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
        return value
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise _fail(path, "a list", value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise CodecError(f"{path}: expected a list of {len(args)} values, got {len(value)}")
        return tuple(_convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin is dict:
        key_t, val_t = get_args(tp)
        if not isinstance(value, dict):
            raise _fail(path, "an object", value)
        return {_convert(key_t, k, path): _convert(val_t, v, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(path, "true or false", value)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, "an integer", value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(path, "a number", value)
        if not math.isfinite(value):
            raise CodecError(f"{path}: expected a finite number, got {value}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _fail(path, "a string", value)
        return value
    raise TypeError(f"{path}: unsupported field type {tp!r}")  # a programming error, not a user's


def _describe(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "an object"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def _convert_dataclass(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(path, "an object", value)
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = [k for k in value if k not in names]
    if unknown:
        raise CodecError(f"{path}: unknown field {unknown[0]!r} (known: {', '.join(names)})")
    missing = [n for n in names if n not in value]
    if missing:
        raise CodecError(f"{path}: missing field {missing[0]!r}")
    kwargs = {n: _convert(hints[n], value[n], f"{path}.{n}") for n in names}
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise CodecError(f"{path}: {exc}") from None


class CodecProblems(CodecError):
    """Every problem of one document (`problems`: one line each); the message lists them on one line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        count = f"{len(problems)} problems" if len(problems) > 1 else "1 problem"
        super().__init__(f"{count}: " + "; ".join(problems))


_BAD = object()  # a value that did not convert (its problem is already listed)


def from_plain_all(cls: type[T], data: Any, path: str = "", *, defaults: bool = False) -> T:
    """As `from_plain`, but every problem of `data` is collected and raised together (`CodecProblems`), and with
    `defaults` a field that has a default may be missing (the default is used).

    Why a second reader: a file written by hand has several mistakes at once, and learning them one run at a
    time (each error naming one more rule) is what made timelines impossible to write from the docs."""
    problems: list[str] = []
    value = _collect(cls, data, path, problems, defaults)
    if problems or value is _BAD:
        raise CodecProblems(problems or [f"{path or cls.__name__}: invalid"])
    return value


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def _collect(tp: Any, value: Any, path: str, problems: list[str], defaults: bool) -> Any:
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            problems.append(str(_fail(path or tp.__name__, "an object", value)))
            return _BAD
        hints = _hints(tp)
        fields = [f for f in dataclasses.fields(tp) if f.init]
        names = [f.name for f in fields]
        bad = False
        for key in value:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(names)}"
                problems.append(f"{_child(path, str(key))}: unknown field ({hint})")
                bad = True
        kwargs = {}
        for f in fields:
            if f.name not in value:
                if not (defaults and has_default(f)):
                    problems.append(f"{_child(path, f.name)}: missing")
                    bad = True
                continue
            kwargs[f.name] = _collect(hints[f.name], value[f.name], _child(path, f.name), problems, defaults)
            bad = bad or kwargs[f.name] is _BAD
        if bad:
            return _BAD
        try:
            return tp(**kwargs)
        except (ValueError, TypeError, CodecError) as exc:
            problems.append(f"{path or tp.__name__}: {exc}")
            return _BAD
    origin, args = get_origin(tp), get_args(tp)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and dataclasses.is_dataclass(args[0]) \
            and isinstance(value, list):
        items = [_collect(args[0], v, f"{path}[{i}]", problems, defaults) for i, v in enumerate(value)]
        return _BAD if any(v is _BAD for v in items) else tuple(items)
    if origin in (Union, types.UnionType) and value is not None:
        options = [o for o in args if o is not type(None)]
        if len(options) == 1 and dataclasses.is_dataclass(options[0]):
            return _collect(options[0], value, path, problems, defaults)
    try:
        return _convert(tp, value, path or "value")
    except CodecError as exc:
        problems.append(str(exc))
        return _BAD


def check_fields(obj: Any, skip: tuple[str, ...] = ()) -> None:
    """Validate a dataclass built in code against its own hints (what `__post_init__`s call); fields named in
    `skip` were checked by the caller."""
    hints = _hints(type(obj))
    name = type(obj).__name__
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name in skip or _prechecked(hints[f.name], value):
            continue
        converted = _convert(hints[f.name], to_plain(value), f"{name}.{f.name}")
        if converted != value or type(converted) is not type(value):
            # e.g. a list where a tuple is declared, or an int where a float is: equality and hashing
            # would then depend on how the object was built; normalise instead of refusing.
            object.__setattr__(obj, f.name, converted)


def _prechecked(tp: Any, value: Any) -> bool:
    """True for a nested dataclass (or a tuple of them) of the declared type: its own `__post_init__` checked it.

    Why: a request holding a W+ latent has thousands of floats; re-checking them every time a request is
    built around the same latent (every GUI frame) would cost milliseconds for nothing."""
    options = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    for option in options:
        if dataclasses.is_dataclass(option) and type(value) is option:
            return True
        args = get_args(option)
        if (get_origin(option) is tuple and len(args) == 2 and args[1] is Ellipsis and dataclasses.is_dataclass(args[0])
                and type(value) is tuple and all(type(v) is args[0] for v in value)):
            return True
    return False


__all__ = ["CodecError", "CodecProblems", "check_fields", "dumps", "from_plain", "from_plain_all", "has_default",
           "loads", "to_plain"]
