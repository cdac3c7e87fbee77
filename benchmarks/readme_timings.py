"""The README's "Run times on a CPU" table: its example commands on the demo networks, timed as a user runs them.

Each command runs as its own process (`python -m stylegan3 ...`, what `sg3-explorer` runs without the GUI), so
start-up and loading are in every number, as for a user. For each row it prints the wall time, the CPU time of
the process (user + system, all threads) and the 1-minute load average before and after: a load average above
the machine's core count means other work shared the cores and the wall time is inflated.

The one-time costs are measured apart, never mixed into a row: with a fresh cache folder (`SG3_EXPLORER_CACHE`
pointed at an empty temporary folder) the first `render --seeds 0` builds the CPU kernels, runs their self-check
and builds the demo network's weights; the same command again is the steady state, and the difference is the
one-time cost. `--warm-cache` skips that (keeps the user's cache; the one-time row then reads "skipped").

`project` gets a row per optimizer step: two runs that differ only in `--steps`, the difference divided by the
extra steps, so start-up and loading cancel out.

    PYTHONPATH=. python3 -m benchmarks.readme_timings                       # the README's settings (slow on a CPU)
    PYTHONPATH=. python3 -m benchmarks.readme_timings --quick --warm-cache  # smallest settings: shows it works

Run it with nothing else on the machine; the README's table is its output.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Timing:
    """One command's wall and CPU seconds, and the 1-minute load average before and after it."""

    wall_s: float
    cpu_s: float
    load_before: float
    load_after: float


def run_timed(argv: list[str], env: dict[str, str], cwd: Path) -> Timing:
    """Run `python -m stylegan3 ARGV` in `cwd` and time it; a failing command stops the harness with its stderr."""
    load_before = os.getloadavg()[0]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "stylegan3", *argv], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"`sg3-explorer {' '.join(argv)}` failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return Timing(wall, cpu, load_before, os.getloadavg()[0])


@dataclass(frozen=True)
class Settings:
    """How much work each README example does: the README's numbers, or the smallest that still runs."""

    seeds: str
    equivariance: int
    spectra: int
    sticking: int
    video_seeds: str
    video_frames_per_seed: int
    project_steps: tuple[int, int]


README = Settings(
    seeds="0",
    equivariance=64,
    spectra=16,
    sticking=32,
    video_seeds="0-3",
    video_frames_per_seed=30,
    project_steps=(10, 30),
)
QUICK = Settings(
    seeds="0", equivariance=1, spectra=2, sticking=2, video_seeds="0-1", video_frames_per_seed=2, project_steps=(1, 3)
)


def commands(s: Settings, out: Path) -> list[tuple[str, list[str]]]:
    """(row label, argv) of the README's examples at settings `s`, writing under `out`."""
    frames = len(range(*_seed_range(s.video_seeds))) * s.video_frames_per_seed
    return [
        ("start-up and loading (`info demo`)", ["info", "demo"]),
        (f"`render --seeds {s.seeds}`", ["render", "--network", "demo", "--seeds", s.seeds, "--outdir", str(out)]),
        (
            f"`equivariance --samples {s.equivariance}`",
            ["equivariance", "--network", "demo", "--samples", str(s.equivariance), "--metrics", "eqt,eqt_frac,eqr"],
        ),
        (
            f"`spectra --samples {s.spectra}`",
            [
                "spectra",
                "--network",
                "demo",
                "--layer",
                "L10_276_24",
                "--samples",
                str(s.spectra),
                "--out",
                str(out / "spectra.png"),
            ],
        ),
        (
            f"`sticking --network demo-sg2 --network demo --samples {s.sticking}`",
            [
                "sticking",
                "--network",
                "demo-sg2",
                "--network",
                "demo",
                "--samples",
                str(s.sticking),
                "--out",
                str(out / "sticking.png"),
            ],
        ),
        (
            f"`video --network demo-sg2 --network demo --seeds {s.video_seeds} --frames-per-seed "
            f"{s.video_frames_per_seed} --loop` ({frames} frames)",
            [
                "video",
                "--network",
                "demo-sg2",
                "--network",
                "demo",
                "--seeds",
                s.video_seeds,
                "--frames-per-seed",
                str(s.video_frames_per_seed),
                "--loop",
                "--out",
                str(out / "cmp.mp4"),
            ],
        ),
    ]


def _seed_range(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    return int(first), int(last or first) + 1


def project_argv(steps: int, target: Path, out: Path) -> list[str]:
    return [
        "project",
        "--network",
        "demo",
        "--target",
        str(target),
        "--steps",
        str(steps),
        "--loss",
        "offline",
        "--outdir",
        str(out / f"proj{steps}"),
    ]


def _cell(t: Timing) -> tuple[str, str]:
    return f"{t.wall_s:.1f} s / {t.cpu_s:.1f} s", f"{t.load_before:.1f} -> {t.load_after:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smallest settings (shows the harness works)")
    parser.add_argument(
        "--warm-cache",
        action="store_true",
        help="keep the user's cache: no fresh-cache run, so no one-time cost is measured",
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else README
    cores = os.cpu_count() or 1
    rows: list[tuple[str, Timing]] = []
    with tempfile.TemporaryDirectory(prefix="sg3-readme-") as tmp:
        work = Path(tmp)
        out = work / "out"
        out.mkdir()
        env = dict(os.environ)
        repo = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        render = ["render", "--network", "demo", "--seeds", "0", "--outdir", str(out)]
        one_time: str
        if args.warm_cache:
            one_time = "skipped (--warm-cache)"
        else:
            env["SG3_EXPLORER_CACHE"] = str(work / "cache")
            first = run_timed(render, env, work)  # builds the kernels and demo weights, runs the self-check
            again = run_timed(render, env, work)
            one_time = (
                f"{first.wall_s - again.wall_s:.1f} s wall / {first.cpu_s - again.cpu_s:.1f} s CPU "
                f"(first `render --seeds 0` on an empty cache {first.wall_s:.1f} s, then {again.wall_s:.1f} s;"
                f" load {first.load_before:.1f} -> {again.load_after:.1f})"
            )
        for label, command in commands(settings, out):
            print(f"running {label} ...", file=sys.stderr, flush=True)
            rows.append((label, run_timed(command, env, work)))
        from PIL import Image

        target = work / "target.png"
        Image.new("RGB", (256, 256), (180, 120, 90)).save(target)
        few, many = settings.project_steps
        print(f"running project --steps {few} and {many} ...", file=sys.stderr, flush=True)
        a = run_timed(project_argv(few, target, out), env, work)
        b = run_timed(project_argv(many, target, out), env, work)
        extra = many - few
        per_step = Timing((b.wall_s - a.wall_s) / extra, (b.cpu_s - a.cpu_s) / extra, a.load_before, b.load_after)
        rows.append((f"`project` per step (`--steps {many}` minus `--steps {few}`, offline loss)", per_step))

    print(f"machine: {cores} cores, {sys.platform}; settings: {'quick' if args.quick else 'README'}")
    print(f"one-time kernel build + self-check + demo weights: {one_time}")
    print()
    print("| command | wall / CPU time | load average (1 min) before -> after |")
    print("|---|---|---|")
    for label, timing in rows:
        wall_cpu, load = _cell(timing)
        print(f"| {label} | {wall_cpu} | {load} |")
    busiest = max(max(t.load_before, t.load_after) for _, t in rows)
    if busiest > cores:
        print(
            f"\nnote: the load average reached {busiest:.1f} on {cores} cores: other work shared the machine, "
            "so these wall times are inflated; rerun on a quiet machine for the README."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
