"""JSON Schemas of our files (render request, session, timeline), generated from the dataclasses that read them.

Why generated: a hand-written schema drifts from the reader the first time a field is added. These come from
the same type hints the strict codec (`stylegan3.documents.jsoncodec`) checks, so what the schema calls valid
is what the program reads. The committed copies in `docs/schemas/` are checked against this code by a test;
rewrite them with `python -m stylegan3.documents.schemas docs/schemas`.

Requests and sessions are read strictly (every field present). A timeline is often written by hand, so its
schema lists only `keyframes` as required, gives each field's default, and accepts a key given by seed: the
reader (`Timeline.from_dict`) fills in the same defaults.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from stylegan3.documents import jsoncodec

__all__ = ["SCHEMA_FILES", "request_schema", "session_schema", "timeline_schema", "write_schemas"]

_BASE_URL = "https://sg3-explorer.invalid/schemas/"  # an id only (no server): tools key the $defs by it
_DRAFT = "https://json-schema.org/draft/2020-12/schema"


class _Builder:
    """Turns type hints into schema fragments, each dataclass once under `$defs`."""

    def __init__(self, defaults: bool) -> None:
        self.defaults = defaults
        self.defs: dict[str, dict] = {}

    def of(self, tp: Any) -> dict:
        origin, args = get_origin(tp), get_args(tp)
        if tp is Any:
            return {}
        if dataclasses.is_dataclass(tp):
            return self._dataclass(tp)
        if origin in (Union, types.UnionType):
            options = [self.of(a) for a in args]
            return options[0] if len(options) == 1 else {"anyOf": options}
        if origin is Literal:
            return {"enum": list(args)}
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return {"type": "array", "items": self.of(args[0])}
            return {
                "type": "array",
                "prefixItems": [self.of(a) for a in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        if origin is dict:
            return {"type": "object", "additionalProperties": self.of(args[1])}
        simple = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
        if tp in simple:
            return {"type": simple[tp]}
        raise TypeError(f"no JSON Schema for {tp!r}")

    def _dataclass(self, cls: type) -> dict:
        name = cls.__name__.lstrip("_")
        if name not in self.defs:
            self.defs[name] = {}  # placeholder: recursive types end here
            hints = jsoncodec._hints(cls)
            fields = [f for f in dataclasses.fields(cls) if f.init]
            properties = {}
            for f in fields:
                prop = self.of(hints[f.name])
                if self.defaults and jsoncodec.has_default(f) and not f.metadata.get("required"):
                    prop = {**prop, "default": jsoncodec.to_plain(_default(f))}
                properties[f.name] = prop
            required = [
                f.name
                for f in fields
                if not (self.defaults and jsoncodec.has_default(f) and not f.metadata.get("required"))
            ]
            doc = (cls.__doc__ or "").strip()
            body = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
            if doc and not doc.startswith(f"{cls.__name__}("):  # dataclass makes up a signature when there is none
                body = {"description": " ".join(doc.split("\n\n")[0].split()), **body}
            self.defs[name] = body
        return {"$ref": f"#/$defs/{name}"}

    def document(self, cls: type, file: str, title: str, extra: dict | None = None) -> dict:
        top = self.of(cls)
        return {
            "$schema": _DRAFT,
            "$id": _BASE_URL + file,
            "title": title,
            **top,
            **(extra or {}),
            "$defs": dict(sorted(self.defs.items())),
        }


def _default(f: dataclasses.Field) -> Any:
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def request_schema() -> dict:
    """A render request file (`render`'s requests, what `--connect` sends), current schema version."""
    from stylegan3.documents.request import SCHEMA_VERSION, RenderRequest

    schema = _Builder(defaults=False).document(RenderRequest, "request.schema.json", "sg3-explorer render request")
    schema["$defs"]["RenderRequest"]["properties"]["schema"] = {"const": SCHEMA_VERSION}
    return schema


def session_schema() -> dict:
    """A session file (`*.sg3session.json`); its `timeline` is null or a timeline object (the timeline schema)."""
    from stylegan3.documents.request import SCHEMA_VERSION
    from stylegan3.documents.session import SESSION_SCHEMA, _SessionFields

    schema = _Builder(defaults=False).document(_SessionFields, "session.schema.json", "sg3-explorer session")
    fields = schema["$defs"]["SessionFields"]
    fields["properties"]["schema"] = {"const": SESSION_SCHEMA}
    fields["properties"]["timeline"] = {"anyOf": [{"type": "null"}, {"$ref": "timeline.schema.json"}]}
    fields["required"].append("timeline")
    schema["$defs"]["RenderRequest"]["properties"]["schema"] = {"const": SCHEMA_VERSION}
    return schema


def timeline_schema() -> dict:
    """A timeline file as people may write it: only `keyframes` required, a key given by bookmark or by seed.
    Requests inside it may leave out fields too (the reader fills in each field's default)."""
    from stylegan3.documents.request import SCHEMA_VERSION as REQUEST_SCHEMA
    from stylegan3.documents.timeline import SCHEMA_VERSION, TimelineFile

    schema = _Builder(defaults=True).document(TimelineFile, "timeline.schema.json", "sg3-explorer timeline")
    schema["$defs"]["TimelineFile"]["properties"]["schema"] = {"const": SCHEMA_VERSION, "default": SCHEMA_VERSION}
    schema["$defs"]["TimelineFile"]["properties"]["keyframes"]["minItems"] = 1
    schema["$defs"]["RenderRequest"]["properties"]["schema"] = {"const": REQUEST_SCHEMA, "default": REQUEST_SCHEMA}
    return schema


SCHEMA_FILES = {
    "request.schema.json": request_schema,
    "session.schema.json": session_schema,
    "timeline.schema.json": timeline_schema,
}


def schema_text(schema: dict) -> str:
    return json.dumps(schema, indent=1, ensure_ascii=False) + "\n"


def write_schemas(folder: str | Path) -> list[Path]:
    """Write every schema into `folder` (the committed copies live in `docs/schemas/`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in SCHEMA_FILES.items():
        path = folder / name
        path.write_text(schema_text(make()), encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_schemas(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas"):
        print(written)
