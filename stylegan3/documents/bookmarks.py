"""Bookmarks: a named state of the view, the one "remember this" concept of sessions and timelines.

A bookmark is a name and a `RenderRequest`, nothing more: the request already carries everything that decides
a frame by value (seed-plane position, truncation, an explicit W / W+ latent, direction moves, transform,
views), so a bookmark returns the window to exactly what it showed, renders the same image headless, and
needs no other file. The Bookmarks panel keeps a list of them; a timeline keyframe is a bookmark plus the
duration of the segment that leaves it (`stylegan3.documents.timeline`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stylegan3.documents import jsoncodec
from stylegan3.documents.request import RenderRequest, upgrade_plain

__all__ = ["Bookmark", "bookmark_from_plain", "bookmark_to_plain"]


@dataclass(frozen=True)
class Bookmark:
    name: str
    request: RenderRequest

    def renamed(self, name: str) -> Bookmark:
        return Bookmark(name, self.request)


def bookmark_to_plain(mark: Bookmark) -> dict:
    return jsoncodec.to_plain(mark)


def bookmark_from_plain(data: Any, path: str = "Bookmark") -> Bookmark:
    """A bookmark from parsed JSON; a request written with request schema 1 is brought up to date, anything
    malformed is a `CodecError` naming the field."""
    if isinstance(data, dict) and "request" in data:
        data = dict(data, request=upgrade_plain(data["request"]))
    return jsoncodec.from_plain(Bookmark, data, path)
