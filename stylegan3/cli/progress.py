"""Progress bar and time estimate of the long analysis commands (equivariance, spectra, sticking, video).

Shown on rank 0 only (a torchrun launch would otherwise draw one bar per process). After the first
round of work, timed, the command prints how long the rest will take, so a user who asked for 50,000
samples learns in seconds whether to wait, add processes or stop.
"""

from __future__ import annotations

import sys
import time


def format_duration(seconds: float) -> str:
    """'42 s', '7 min 05 s', '3 h 12 min'."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class RunProgress:
    """``update(done, total)`` as a progress callback; the estimate is printed once, after the first update.

    ``start`` counts work already done before this run (a resumed results file): it is neither timed nor
    part of the estimate. ``first_round`` is how many units the first round of work delivers at once
    (a batch on every process): the estimate waits for all of them, since the later ones of a round
    arrive together with the first. Inactive (no bar, no estimate) when ``enabled`` is false: the
    non-main ranks.
    """

    def __init__(self, total: int, desc: str, unit: str, enabled: bool = True, start: int = 0,
                 processes: int = 1, first_round: int = 1) -> None:
        self.total, self.desc, self.unit, self.enabled, self.start = total, desc, unit, enabled, start
        self.processes = processes
        self.first_round = max(1, int(first_round))
        self.t0 = time.perf_counter()
        self.estimated = False
        self.bar = None  # drawn at the first report, so a failure before any work (a refused connection) is alone
        self.last: int | None = None

    def estimate_line(self, done: int, now: float | None = None) -> str | None:
        """'estimate: ... for the remaining N units (first K took T)' from the time until `now` (default: now)."""
        new = done - self.start
        if new <= 0:
            return None
        took = (time.perf_counter() if now is None else now) - self.t0
        left = self.total - done
        where = f" on {self.processes} processes" if self.processes > 1 else ""
        return (f"estimate: {format_duration(took / new * left)} for the remaining {left} {self.unit}{where} "
                f"(first {new} took {format_duration(took)})")

    def __call__(self, done: int, _total: int | None = None) -> None:
        if not self.enabled or done == self.last:
            return  # a remote analysis repeats its last report while it waits: nothing to redraw
        now = time.perf_counter()  # before drawing: the first bar's set-up is no part of the work timed
        self.last = done
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=self.start, desc=self.desc, unit=self.unit, file=sys.stderr,
                            leave=False)
        self.bar.update(done - self.bar.n)  # first, so the bar and the estimate below name the same count
        if not self.estimated and done < self.total and done - self.start >= self.first_round:
            line = self.estimate_line(done, now)
            if line is not None:
                self.estimated = True
                self.bar.write(line, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def end_progress_lines() -> None:
    """Close every progress bar still drawn (ours and tqdm's in the library), so the error printed next starts
    on a line of its own instead of after a bar's last redraw."""
    try:
        from tqdm import tqdm
    except ImportError:
        return
    # The lowest bar first: closing a bar drawn below another moves the cursor back up to it.
    for bar in sorted(getattr(tqdm, "_instances", ()), key=lambda b: abs(getattr(b, "pos", 0)), reverse=True):
        bar.close()
