"""visualizer.jobs: a job's progress, result, one-line error and cancel, and the slot the analysis panels poll."""

from __future__ import annotations

import threading

from sg3_explorer.visualizer.jobs import Job, JobSlot
from stylegan3.errors import SG3Error


def _gated(gate: threading.Event, reached: threading.Event, result: object = "late"):
    def fn(progress):
        progress(1, 4)
        reached.set()
        gate.wait(10)
        progress(2, 4)  # raises once cancelled
        return result

    return fn


def test_progress_is_visible_while_running_and_full_when_finished():
    gate, reached = threading.Event(), threading.Event()
    job = Job(_gated(gate, reached, 42), "count")
    assert reached.wait(10)
    assert (job.count, job.total, job.fraction, job.done) == (1, 4, 0.25, False)
    gate.set()
    assert job.wait(10)
    assert (job.result, job.error, job.cancelled, job.fraction) == (42, None, False, 1.0)
    assert job.seconds > 0.0


def test_cancel_stops_at_the_next_progress_report():
    gate, reached = threading.Event(), threading.Event()
    job = Job(_gated(gate, reached))
    assert reached.wait(10)
    assert job.cancel() is True
    gate.set()
    assert job.wait(10)
    assert job.cancelled and job.result is None and job.error is None
    assert (job.count, job.total) == (1, 4)  # the report that raised was not recorded


def test_cancelled_job_has_no_result_even_when_fn_finishes():
    gate, started = threading.Event(), threading.Event()

    def no_more_reports(progress):
        started.set()
        gate.wait(10)
        return "stale"

    job = Job(no_more_reports)
    assert started.wait(10)
    job.cancel()
    gate.set()
    assert job.wait(10) and job.cancelled and job.result is None


def test_cancel_after_the_end_changes_nothing():
    job = Job(lambda progress: 7)
    assert job.wait(10)
    assert job.cancel() is False
    assert job.result == 7 and not job.cancelled


def test_errors_become_one_line_messages():
    def multi_line(progress):
        raise ValueError("first line\nsecond line")

    job = Job(multi_line)
    assert job.wait(10)
    assert job.error == "ValueError: first line" and job.result is None and not job.cancelled

    def ours(progress):
        raise SG3Error("sigma must be positive")

    job = Job(ours)
    assert job.wait(10) and job.error == "sigma must be positive"  # our errors need no type name
    assert job.fraction == 0.0


def test_slot_hands_a_result_over_once_and_runs_one_job_at_a_time():
    slot = JobSlot()
    assert slot.poll() == (False, None) and not slot.busy and slot.wait(1)
    gate, reached = threading.Event(), threading.Event()
    assert slot.start(_gated(gate, reached, "done"), "w")
    assert reached.wait(10)
    assert slot.busy and (slot.count, slot.total) == (1, 4) and slot.label == "w"
    assert not slot.start(lambda progress: "other")
    assert slot.poll() == (False, None)  # not finished yet
    gate.set()
    assert slot.wait(10) and not slot.busy
    assert slot.poll() == (True, "done") and slot.fraction == 1.0
    assert slot.poll() == (False, None)


def test_slot_reports_errors_and_cancel_in_error():
    slot = JobSlot()

    def boom(progress):
        raise RuntimeError("bad layer")

    slot.start(boom)
    slot.wait(10)
    assert slot.poll() == (False, None) and slot.error == "RuntimeError: bad layer"

    gate, reached = threading.Event(), threading.Event()
    slot.start(_gated(gate, reached))
    assert slot.error is None  # a new start clears the last message
    assert reached.wait(10)
    slot.cancel()
    assert slot.busy  # until the worker reaches its next report
    gate.set()
    slot.wait(10)
    assert slot.poll() == (False, None) and slot.error == "cancelled"


def test_slot_cancel_forgets_a_finished_unpolled_result():
    slot = JobSlot()
    slot.start(lambda progress: 42)
    slot.wait(10)
    slot.cancel()
    assert slot.poll() == (False, None) and slot.error is None
