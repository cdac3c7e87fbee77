"""The long commands' progress: durations and the one-off time estimate."""

from __future__ import annotations

import time

from stylegan3.cli.progress import RunProgress, format_duration


def test_format_duration():
    assert format_duration(3.24) == "3.2 s"
    assert format_duration(42.4) == "42 s"
    assert format_duration(425) == "7 min 05 s"
    assert format_duration(3 * 3600 + 12 * 60 + 20) == "3 h 12 min"


def test_estimate_extrapolates_the_first_round_and_skips_resumed_work(capsys):
    bar = RunProgress(50_000, "eq", "latents", enabled=True, start=1000, processes=4)
    bar.t0 = time.perf_counter() - 2.0  # the first 4 new latents took 2 s
    bar(1004)
    bar(1008)
    bar.close()
    err = capsys.readouterr().err
    assert err.count("estimate:") == 1
    # 48,996 latents left at 0.5 s each
    assert "estimate: 6 h 48 min for the remaining 48996 latents on 4 processes (first 4 took 2.0 s)" in err


def test_disabled_progress_is_silent(capsys):
    bar = RunProgress(10, "eq", "latents", enabled=False)
    bar(5)
    bar.close()
    assert capsys.readouterr().err == ""


def test_estimate_waits_for_the_whole_first_round(capsys):
    bar = RunProgress(100, "video", "frames", first_round=8, processes=2)
    bar.t0 = time.perf_counter() - 4.0
    bar(1)  # frames of one round arrive together: one frame says nothing about the rate yet
    assert "estimate" not in capsys.readouterr().err
    bar(8)
    bar.close()
    assert "estimate: 46 s for the remaining 92 frames on 2 processes (first 8 took 4.0 s)" in capsys.readouterr().err
