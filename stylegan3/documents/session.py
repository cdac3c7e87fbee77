"""Session files (`*.sg3session.json`): the network, the request on screen, panel settings, bookmarks, timeline.

Plain JSON read with the same strict codec as requests (a session never executes anything, and a bad
file names the field that is wrong). Each file carries a schema version; an older one is brought up to
date by the migrations in `MIGRATIONS` (one function per version step), a newer or unknown one is refused
with a sentence saying which version it is and which this program reads.

Bookmarks and the timeline are one concept stored once: the bookmark list holds `Bookmark`s
and the timeline's keys are bookmarks plus a duration (`stylegan3.documents.timeline`), written in the timeline's own
file form (a `*.json` timeline file and a session's `"timeline"` read the same way).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stylegan3.documents import jsoncodec
from stylegan3.documents.bookmarks import Bookmark
from stylegan3.documents.request import RenderRequest
from stylegan3.documents.timeline import Timeline
from stylegan3.errors import SG3Error

__all__ = ["Bookmark", "Session", "SessionError", "load_session", "save_session", "session_stem", "SUFFIX"]

SESSION_SCHEMA = 3
SUFFIX = ".sg3session.json"
MAX_BYTES = 64 * 1024 * 1024  # a bookmark is ~1 KiB, or ~200 KiB with a projected W+ latent of a 1024 net
MAX_BOOKMARKS = 10_000


def _v1_to_v2(data: dict) -> dict:
    """Version 2 added the timeline (a version-1 file may carry a version-1 timeline object, read as it is)."""
    data.setdefault("timeline", None)
    return data


def _v2_to_v3(data: dict) -> dict:
    """Version 3 writes its timeline with a `schema` instead of `format` / `version` (the old form is still read):
    nothing to change; the number tells an older program that it cannot read the new timeline form."""
    return data


# version N -> function turning a version-N document into version N + 1
MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2, 2: _v2_to_v3}


class SessionError(SG3Error):
    pass


@dataclass(frozen=True)
class _SessionFields:
    """What the strict codec reads of a session (the timeline has its own file form, see `from_data`)."""

    schema: int
    request: RenderRequest
    panels: dict[str, Any]
    bookmarks: tuple[Bookmark, ...]


@dataclass(frozen=True)
class Session:
    schema: int = SESSION_SCHEMA
    request: RenderRequest = field(default_factory=RenderRequest)
    panels: dict[str, Any] = field(default_factory=dict)  # each panel's own settings, by panel name
    bookmarks: tuple[Bookmark, ...] = ()
    timeline: Timeline | None = None  # the Timeline panel's keys (bookmarks + durations), None = none made

    @property
    def network(self):
        return self.request.network

    def with_bookmark(self, name: str, request: RenderRequest) -> Session:
        return dataclasses.replace(self, panels=dict(self.panels), bookmarks=(*self.bookmarks, Bookmark(name, request)))


def to_plain(session: Session) -> dict:
    plain = jsoncodec.to_plain(_SessionFields(session.schema, session.request, session.panels, session.bookmarks))
    plain["timeline"] = None if session.timeline is None else session.timeline.to_dict()
    return plain


def to_text(session: Session) -> str:
    return json.dumps(to_plain(session), indent=1, allow_nan=False) + "\n"


def from_data(data: Any, label: str = "session", base: str | os.PathLike | None = None,
              num_ws: int | None = None) -> Session:
    """A session from parsed JSON: migrated from an older schema, or refused saying exactly why. `base` and
    `num_ws` only matter for an embedded version-1 timeline (see `stylegan3.documents.timeline.Timeline.from_dict`)."""
    if not isinstance(data, dict):
        raise SessionError(f"{label}: not a session file (expected a JSON object)")
    version = data.get("schema")
    if isinstance(version, bool) or not isinstance(version, int):
        raise SessionError(f"{label}: not a session file (no integer 'schema' version)")
    if version > SESSION_SCHEMA:
        raise SessionError(f"{label}: written by a newer sg3-explorer (session schema {version}; this version "
                           f"reads up to {SESSION_SCHEMA}): update sg3-explorer to open it")
    while version < SESSION_SCHEMA:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SessionError(f"{label}: session schema {version} cannot be read (no migration from version "
                               f"{version} to {version + 1}; this version reads {SESSION_SCHEMA})")
        data = step(dict(data))
        version += 1
        data["schema"] = version
    if isinstance(data.get("bookmarks"), list) and len(data["bookmarks"]) > MAX_BOOKMARKS:
        raise SessionError(f"{label}: more than {MAX_BOOKMARKS} bookmarks")
    data = _upgrade_requests(data)
    if "timeline" not in data:
        raise SessionError(f"{label}: Session: missing field 'timeline'")
    data = dict(data)
    timeline_data = data.pop("timeline")
    try:
        fields = jsoncodec.from_plain(_SessionFields, data, "Session")
    except jsoncodec.CodecError as exc:
        raise SessionError(f"{label}: {exc}") from None
    try:
        timeline = None if timeline_data is None else Timeline.from_dict(timeline_data, base=base, num_ws=num_ws)
    except SG3Error as exc:
        raise SessionError(f"{label}: timeline: {exc}") from None
    return Session(fields.schema, fields.request, fields.panels, fields.bookmarks, timeline)


def _upgrade_requests(data: dict) -> dict:
    """Requests written by an older request schema (a session saved before explicit latents and direction
    moves were part of the request) are brought up to date; the session schema itself did not change."""
    from stylegan3.documents.request import upgrade_plain

    data = dict(data)
    if "request" in data:
        data["request"] = upgrade_plain(data["request"])
    if isinstance(data.get("bookmarks"), list):
        data["bookmarks"] = [dict(b, request=upgrade_plain(b["request"])) if isinstance(b, dict) and "request" in b
                             else b for b in data["bookmarks"]]
    return data


def load_session(path: str | os.PathLike, num_ws: int | None = None) -> Session:
    """Read a session file (`num_ws`: the network's, to convert an embedded version-1 timeline's ranged moves)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise SessionError(f"{p}: {size} bytes is too large for a session file (limit {MAX_BYTES})")
        text = p.read_bytes()
    except OSError as exc:
        raise SessionError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SessionError(f"{p}: not a session file (not valid JSON: {exc})") from None
    return from_data(data, str(p), base=p.parent, num_ws=num_ws)


def save_session(path: str | os.PathLike, session: Session) -> Path:
    """Write atomically (a crash mid-save never leaves half a file where the last good one was)."""
    from stylegan3.documents.atomic import replace_atomically

    p = Path(path)
    text = to_text(session)
    try:
        with replace_atomically(p, prefix=".sg3session-") as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SessionError(f"{p}: cannot write ({exc.strerror})") from None
    return p


def session_stem(path: str | os.PathLike) -> str:
    name = Path(path).name
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else Path(name).stem
