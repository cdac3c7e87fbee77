"""Recognise a network file by its first bytes, never by its extension.

A renamed file, a download that returned an HTML error page, or a `torch.save` checkpoint should
each get a message that says what the file actually is.
"""

from __future__ import annotations

HEAD_BYTES = 64


def detect_format(head: bytes) -> str:
    """Classify the first bytes of a file.

    Returns 'pickle' (protocol 2+, as every official network pickle), 'safetensors', 'zip' (e.g. a
    `torch.save` checkpoint), 'gzip', 'text', 'empty' or 'unknown'.
    """
    if not head:
        return "empty"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    if len(head) >= 10:
        header_len = int.from_bytes(head[:8], "little")
        if 2 <= header_len <= 100_000_000 and head[8:9] == b"{":
            return "safetensors"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if _looks_like_text(head):
        return "text"
    return "unknown"


def looks_like_html(head: bytes) -> bool:
    """True for the start of a web page (a hosting site's download, sign-in or virus-scan page)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<meta", b"<script"))


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of `head` is still text.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * max(len(text), 1)


def describe_unreadable(kind: str) -> str:
    """The one-line problem for a file that is neither a pickle nor a safetensors file."""
    return {
        "empty": "the file is empty",
        "zip": "a zip archive (e.g. a torch.save checkpoint), not a network pickle or .safetensors file",
        "gzip": "a gzip-compressed file; decompress it first",
        "text": "a text file, not a network pickle or .safetensors file",
    }.get(kind, "not a network pickle or .safetensors file (unrecognised content)")
