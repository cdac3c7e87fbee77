"""Commands that only read a network or report build no kernels and run no self-check.

On a cold cache `info demo-sg3-r` took 34 s to print an architecture: loading it ran the kernels' first-use
self-check, which builds them. Spies stand in for every entry point of a build (`ops.cuda.kernels`,
`ops.cuda.cpu.kernels`) and of the check (`selfcheck.ensure`, `ensure_safe`, `check`)."""

from __future__ import annotations

import pytest

import sg3_explorer.ops.cuda as cuda_ops
from sg3_explorer.ops.cuda import cpu as cpu_ops
from stylegan3.cli.main import main
from stylegan3.ops import selfcheck


@pytest.fixture()
def spies(monkeypatch):
    called: list[str] = []

    def spy(name):
        def record(*args, **kwargs):
            called.append(name)
            raise AssertionError(f"{name} called by a read-only command")

        return record

    for module, name in (
        (cuda_ops, "kernels"),
        (cpu_ops, "kernels"),
        (selfcheck, "ensure"),
        (selfcheck, "ensure_safe"),
        (selfcheck, "check"),
    ):
        monkeypatch.setattr(module, name, spy(f"{module.__name__}.{name}"))
    return called


def test_info_of_a_demo_builds_and_checks_nothing(spies, capsys):
    assert main(["info", "demo-sg3-r"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "network     demo-sg3-r (untrained)" and "kind        SG3-R" in out
    assert spies == []


def test_info_of_a_demo_on_a_cold_cache_builds_and_checks_nothing(spies, capsys, monkeypatch, tmp_path):
    # the demo's weights are calibrated by running it once: on the reference ops, so no kernels are built for that
    from stylegan3.loading import demo

    monkeypatch.setenv("SG3_EXPLORER_CACHE", str(tmp_path / "cache"))
    demo._build.cache_clear()
    try:
        assert main(["info", "demo-sg3-r"]) == 0
    finally:
        demo._build.cache_clear()
    assert "kind        SG3-R" in capsys.readouterr().out
    assert list((tmp_path / "cache" / "demo").glob("sg3-r-*.safetensors"))  # really built here, not reused
    assert spies == []


def test_info_of_a_file_and_convert_build_and_check_nothing(spies, tmp_path, capsys):
    out = tmp_path / "demo.safetensors"
    assert main(["convert", "demo", str(out)]) == 0
    assert main(["info", str(out)]) == 0
    assert f"network     {out}" in capsys.readouterr().out
    assert spies == []


def test_doctor_no_build_builds_and_checks_nothing(spies, capsys):
    assert main(["doctor", "--no-build"]) == 0
    assert "self-check: not run (--no-build)" in capsys.readouterr().out.splitlines()
    assert spies == []
