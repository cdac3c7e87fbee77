"""Files that outlive a run: per-sample results to resume from, and one summary record per finished run.

A paper-size estimate (50,000 latents) runs for hours; an interrupted run should lose minutes, not the
hours before. :class:`SampleLog` is a JSON-lines file: a header line with everything that defines the
result (network fingerprint, metric, seed, settings) and then one line per finished sample. Lines are
appended with a single ``write`` on a file opened for appending, then flushed to disk, so a kill leaves
at worst a torn last line, which the next run drops. Reopening the file with other settings is refused
(the samples would not belong to the same estimate).

:func:`append_run_record` adds one JSON line per finished run to a log the user names, so runs can be
compared with each other and with the paper's table (jq, pandas ``read_json(lines=True)``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from stylegan3.errors import SG3Error

__all__ = ["network_fingerprint", "SampleLog", "append_run_record", "run_record"]

FORMAT = "sg3-explorer-samples/1"


def network_fingerprint(G: torch.nn.Module) -> str:
    """SHA-256 (hex) of the network's tensors (names, dtypes, shapes, values) and constructor arguments.

    Identifies the weights whatever file or format they came from, so a results file cannot be resumed
    with a different network and two runs' records say whether they measured the same one.
    """
    h = hashlib.sha256()
    h.update(json.dumps(getattr(G, "init_kwargs", None), sort_keys=True, default=str).encode())
    for name, t in sorted(G.state_dict().items()):
        t = t.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, allow_nan=True, default=str))


class SampleLog:
    """Per-sample results of one estimate, appended as they finish (see module doc).

    ``header`` must be JSON-able; the samples already in the file are in :attr:`done` (index -> record).
    """

    def __init__(self, path: str | os.PathLike, header: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.header = _jsonable({"format": FORMAT, **header})
        self.done: dict[int, Any] = {}
        if not self.path.parent.is_dir():
            raise SG3Error(f"folder of {self.path} does not exist")
        if self.path.exists() and self.path.stat().st_size > 0:
            self._read()
        else:
            self._append([json.dumps(self.header, allow_nan=True)])

    def _read(self) -> None:
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise SG3Error(f"{self.path}: cannot read ({exc.strerror})") from None
        complete = raw[: raw.rfind(b"\n") + 1]  # a torn last line (killed mid-write) is dropped
        if len(complete) != len(raw):
            with open(self.path, "r+b") as f:
                f.truncate(len(complete))
        lines = complete.decode("utf-8", errors="replace").splitlines()
        try:
            header = json.loads(lines[0]) if lines else None
        except json.JSONDecodeError:
            header = None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise SG3Error(f"{self.path} is not a results file of sg3-explorer; name a new file or remove it")
        differ = sorted(k for k in set(header) | set(self.header) if header.get(k) != self.header.get(k))
        if differ:
            key = differ[0]
            raise SG3Error(f"{self.path} holds a run with other settings ({key}: {header.get(key)!r} there, "
                           f"{self.header.get(key)!r} now); name a new file to start afresh")
        for number, line in enumerate(lines[1:], start=2):
            try:
                rec = json.loads(line)
                self.done[int(rec["i"])] = rec["r"]
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                raise SG3Error(f"{self.path}: line {number} is damaged; name a new file to start afresh") from None

    def _append(self, lines: list[str]) -> None:
        data = "".join(line + "\n" for line in lines).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def append(self, records: Iterable[tuple[int, Any]]) -> None:
        """Add finished samples ``(index, record)`` (JSON-able records), all in one write."""
        records = list(records)
        if not records:
            return
        self._append([json.dumps({"i": int(i), "r": r}, allow_nan=True) for i, r in records])
        for i, r in records:
            self.done[int(i)] = _jsonable(r)


def run_record(command: str, network: str, fingerprint: str, samples: int, settings: Mapping[str, Any],
               results: Mapping[str, Any], seconds: float, processes: int) -> dict[str, Any]:
    """The summary record of one finished run (see :func:`append_run_record`)."""
    from stylegan3 import __version__

    return {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "version": __version__,
        "command": command,
        "network": network,
        "network_sha256": fingerprint,
        "samples": int(samples),
        "settings": dict(settings),
        "results": dict(results),
        "seconds": round(float(seconds), 3),
        "processes": int(processes),
    }


def append_run_record(path: str | os.PathLike, record: Mapping[str, Any]) -> None:
    """Append one JSON line to the log at ``path`` (created if missing; its folder must exist)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise SG3Error(f"folder of {path} does not exist")
    line = (json.dumps(_jsonable(record), allow_nan=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
