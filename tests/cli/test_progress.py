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


def test_the_bar_shows_the_count_the_estimate_names(capsys):
    """`video` drew 1/6 while its estimate said "first 4 ... remaining 2": the bar now moves before the line."""
    bar = RunProgress(6, "v.mp4", "frames", first_round=4)
    bar(1)
    bar.t0 = time.perf_counter() - 4.0
    bar(4)
    err = capsys.readouterr().err
    after = err[err.index("estimate:") :]
    assert "for the remaining 2 frames (first 4 took" in after
    assert "4/6" in after and "1/6" not in after
    bar.close()


def test_nothing_is_drawn_before_the_first_report_and_repeats_are_not_redrawn(capsys):
    bar = RunProgress(4, "spectrum", "img")
    assert capsys.readouterr().err == ""  # a failure before any work (a refused connection) stands alone
    bar(0)
    updates = []
    draw = bar.bar.update
    bar.bar.update = lambda n=1: (updates.append(n), draw(n))
    for _ in range(17):  # a remote analysis repeats its last report while it waits
        bar(0)
    assert updates == []
    bar(1)
    assert updates == [1]
    err = capsys.readouterr().err
    assert err.count("0/4") == 1 and "1/4" in err
    bar.close()


def test_an_error_after_a_bar_starts_on_a_line_of_its_own(capsys):
    from tqdm import tqdm

    from stylegan3.cli.progress import end_progress_lines

    bar = RunProgress(4, "spectrum", "img")
    bar(1)
    other = tqdm(total=3, desc="load", leave=False)  # a library's bar, not ours
    end_progress_lines()
    assert not list(getattr(tqdm, "_instances", ()))
    assert capsys.readouterr().err.endswith("\r")  # the bar's line was cleared: the error starts at column 0
    other.close()
