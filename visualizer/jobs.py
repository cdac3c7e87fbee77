"""Long computations off the GUI thread: one `Job` per computation, and a `JobSlot` for panels that run one
at a time and pick the result up from their per-frame code.

Library analysis functions take a `progress(done, total)` callback; a job passes its own, which records the
progress for the progress bar and raises `JobCancelled` once the job was cancelled. That is how cancel reaches
a computation without the library knowing about threads: the exception unwinds it at its next report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sg3_explorer.visualizer.loader import error_line

Progress = Callable[[int, int], None]
JobFn = Callable[[Progress], Any]


# What a job was doing, for an out-of-memory message ("... while recording the comparison video").
_DOING = {
    "record": "recording the comparison video",
    "sticking": "analysing texture sticking",
    "trace": "tracing the comparison pane",
    "spectra": "computing spectra",
    "paper spectrum": "computing the paper spectrum",
    "equivariance": "measuring equivariance",
}


class JobCancelled(Exception):
    """Raised from a job's progress callback after `cancel()`, to abandon the computation."""


class Job:
    """`fn(progress)` on its own (lower-priority) thread, started at construction. The GUI reads `fraction`,
    `count` / `total`, `done`, `result`, `error`, `cancelled` without waiting. A job cancelled before it finished
    never has a result, even when `fn` ran to the end without another progress report: a caller that cancelled
    has moved on (new network, another view) and must not see the old answer."""

    def __init__(self, fn: JobFn, name: str = "job") -> None:
        self.name = name
        self.count = 0  # last progress report: count of total steps
        self.total = 0
        self.result: Any = None
        self.error: str | None = None  # one line, for a message in the panel
        self.cancelled = False
        self.seconds = 0.0
        self._fn = fn
        self._lock = threading.Lock()  # orders cancel() against the end of the run
        self._cancel = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sg3-{name}", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        """The run ended (result, error or cancelled)."""
        return self._done.is_set()

    @property
    def fraction(self) -> float:
        """Progress in [0, 1]; 1 once finished with a result."""
        if self.done and self.error is None and not self.cancelled:
            return 1.0
        return min(max(self.count / self.total, 0.0), 1.0) if self.total > 0 else 0.0

    def cancel(self) -> bool:
        """Ask the job to stop at its next progress report. True when that cancelled it, False when it had
        already finished (its outcome stands)."""
        with self._lock:
            if self._done.is_set():
                return False
            self._cancel = True
            return True

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the job ended (tests and shutdown; the GUI polls `done`)."""
        return self._done.wait(timeout)

    def _progress(self, done: int, total: int) -> None:
        if self._cancel:
            raise JobCancelled()
        self.count, self.total = int(done), int(total)

    def _run(self) -> None:
        from stylegan3.service.priority import lower_thread_priority

        lower_thread_priority()
        t0 = time.perf_counter()
        result, error = None, None
        try:
            result = self._fn(self._progress)
        except JobCancelled:
            pass
        except Exception as exc:  # noqa: BLE001 - a failed analysis is a message in its panel, not a crash
            error = error_line(exc, _DOING.get(self.name.removeprefix("job-"), f"running {self.name}"))
        with self._lock:
            if self._cancel:
                result, error, self.cancelled = None, None, True
            self.result, self.error = result, error
            self.seconds = time.perf_counter() - t0
            self._done.set()


class JobSlot:
    """At most one job at a time, for a panel that polls every frame: `poll()` hands a finished job's result
    over once, and its error (or "cancelled") lands in `error` for the panel to show."""

    def __init__(self) -> None:
        self.job: Job | None = None  # the latest job, kept after it ended so its progress stays readable
        self.label = ""
        self.error: str | None = None
        self._taken = True  # the latest job's outcome was handed over (or forgotten)

    @property
    def busy(self) -> bool:
        return self.job is not None and not self.job.done

    @property
    def fraction(self) -> float:
        return self.job.fraction if self.job is not None else 0.0

    @property
    def count(self) -> int:
        return self.job.count if self.job is not None else 0

    @property
    def total(self) -> int:
        return self.job.total if self.job is not None else 0

    def start(self, fn: JobFn, label: str = "") -> bool:
        """Run `fn(progress)` on a worker thread; False (nothing started) while another job runs."""
        if self.busy:
            return False
        self.label, self.error, self._taken = label, None, False
        self.job = Job(fn, f"job-{label}" if label else "job")
        return True

    def cancel(self) -> None:
        """Stop the running job, or forget a finished result not yet polled (e.g. the network was replaced)."""
        if self.job is not None and not self.job.cancel():
            self._taken = True

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the job ends (tests only; the GUI polls)."""
        return self.job.wait(timeout) if self.job is not None else True

    def poll(self) -> tuple[bool, Any]:
        """(True, result) once after a job finished with a result; otherwise (False, None), and a failed or
        cancelled job's message in `error`."""
        job = self.job
        if job is None or self._taken or not job.done:
            return False, None
        self._taken = True
        if job.cancelled:
            self.error = "cancelled"
        elif job.error is not None:
            self.error = job.error
        else:
            return True, job.result
        return False, None
