"""A resumable mean spectrum: the running float64 sum of the latents' spectra, saved now and then.

Why a sum and not per-latent lines like the equivariance log (`stylegan3.runs.runlog.SampleLog`): one latent's
spectrum of a 1024² output is 8 MiB, so a file per sample would grow by gigabytes; the sum in seed order is all
the mean needs, and continuing it from a saved sum adds the same numbers in the same order, so the resumed
result has the same bits as an uninterrupted run. The file (`.npz`) holds a header (network hash, layer, seed,
psi, window, beta), the count and the sum; it is replaced atomically, so a kill leaves the previous checkpoint,
and reopening it with other settings is refused (the sum would not belong to the same estimate). A larger
`--samples` extends a finished run; a smaller one than what is saved is refused (a sum cannot be undone).
`spectra --paper` keeps its sum the same way (the half plane of `stylegan3.metrics.paper_spectrum`, counted in
images, with the paper estimator's settings in the header).
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylegan3.errors import SG3Error

FORMAT = "sg3-explorer-spectrum-sum/1"
SAVE_EVERY_S = 10.0


class SpectrumCheckpoint:
    """`resume_from` for `network_spectrum` (None when starting fresh) and `on_partial` to keep it saved."""

    def __init__(self, path: str | os.PathLike, header: Mapping[str, Any], samples: int,
                 save_every: float = SAVE_EVERY_S) -> None:
        self.path = Path(path)
        self.header = json.loads(json.dumps({"format": FORMAT, **header}))
        self.save_every = float(save_every)
        self._last_save = time.monotonic()
        self.resume_from: tuple[int, torch.Tensor] | None = None
        self._latest: tuple[int, torch.Tensor] | None = None
        if self.path.exists():
            count, acc = self._read()
            if count > samples:
                raise SG3Error(f"{self.path}: already sums {count} latents, more than --samples {samples} "
                               f"(a sum cannot be undone: use a new file or --samples >= {count})")
            self.resume_from = (count, acc)

    @property
    def done(self) -> int:
        return self.resume_from[0] if self.resume_from is not None else 0

    def _read(self) -> tuple[int, torch.Tensor]:
        try:
            with np.load(self.path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                count, acc = int(data["count"]), np.array(data["sum"], dtype=np.float64)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise SG3Error(f"{self.path}: not a spectrum checkpoint ({exc})") from None
        if header != self.header:
            diff = sorted(k for k in set(header) | set(self.header) if header.get(k) != self.header.get(k))
            raise SG3Error(f"{self.path}: saved with other settings ({', '.join(diff)}): "
                           "use a new file or the same settings")
        if count < 1 or acc.ndim != 2:
            raise SG3Error(f"{self.path}: damaged checkpoint (count {count}, sum of shape {acc.shape})")
        return count, torch.from_numpy(acc)

    def on_partial(self, count: int, acc: torch.Tensor, force: bool = False) -> None:
        """Save (count, sum) when `save_every` seconds passed since the last save, or when forced."""
        self._latest = (int(count), acc)
        now = time.monotonic()
        if not force and now - self._last_save < self.save_every:
            return
        self._last_save = now
        self.save(count, acc)

    def finish(self) -> None:
        """Save the last reported sum (the finished run), so a larger --samples can extend it later."""
        if self._latest is not None:
            self.save(*self._latest)

    def save(self, count: int, acc: torch.Tensor) -> None:
        from stylegan3.documents.atomic import replace_atomically

        with replace_atomically(self.path, suffix=".part.npz") as tmp:
            np.savez(tmp, header=np.array(json.dumps(self.header, sort_keys=True)), count=np.int64(count),
                     sum=acc.detach().cpu().to(torch.float64).numpy())
