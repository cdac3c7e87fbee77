"""Bad command lines: one `error:` line and exit status 1 for the top level and every command (no usage block)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sg3_explorer.visualizer.cli import build_parser, main  # the console script: library commands + gui


def _commands() -> list[str]:
    import argparse

    parser = build_parser()
    return list(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices)


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "usage:" not in err
    return lines[0]


def test_every_command_is_covered():
    assert {"gui", "render", "info", "convert", "spectra", "equivariance", "sticking", "video", "doctor"} <= set(
        _commands()
    )


@pytest.mark.parametrize("command", _commands())
def test_unknown_option_of_every_command(command, capsys):
    assert main([command, "--no-such-option"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: sg3-explorer {command}: ")
    assert line.endswith(f"(see sg3-explorer {command} --help)")


def test_bad_values_and_missing_arguments(capsys):
    cases = {
        ("render", "--seeds", "3-1", "--outdir", "o"): "error: sg3-explorer render: argument --seeds: seed range '3-1' "
        "runs backwards (see sg3-explorer render --help)",
        ("convert",): "error: sg3-explorer convert: the following arguments are required: input, output "
        "(see sg3-explorer convert --help)",
        ("spectra", "--samples", "many"): "error: sg3-explorer spectra: argument --samples: invalid int value: "
        "'many' (see sg3-explorer spectra --help)",
        ("--debug", "rendr", "--seeds", "3"): "error: unknown command 'rendr'; did you mean 'render'? "
        "(see sg3-explorer --help)",
    }
    for argv, expected in cases.items():
        assert main(list(argv)) == 1, argv
        assert _one_error_line(capsys.readouterr().err) == expected


def test_help_still_exits_0(capsys):
    with pytest.raises(SystemExit) as info:
        main(["render", "--help"])
    assert info.value.code == 0
    assert "usage: sg3-explorer render" in capsys.readouterr().out


def test_console_script_exit_status_is_1():
    """Through a real process, as a user's shell sees it."""
    proc = subprocess.run([sys.executable, "-m", "stylegan3", "render", "--psi", "high"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert _one_error_line(proc.stderr) == ("error: sg3-explorer render: argument --psi: invalid float value: "
                                            "'high' (see sg3-explorer render --help)")
    assert proc.stdout == ""


def test_library_command_line_has_no_gui(capsys):
    """`python -m stylegan3` is the library's: every headless command, no window (the library imports no GUI)."""
    import argparse

    from stylegan3.cli.main import build_parser as library_parser
    from stylegan3.cli.main import main as library_main

    sub = next(a for a in library_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "gui" not in sub.choices and {"render", "serve", "info"} <= set(sub.choices)
    assert library_main([]) == 1
    assert _one_error_line(capsys.readouterr().err) == "error: sg3-explorer: no command given (see sg3-explorer --help)"
