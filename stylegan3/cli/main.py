"""The command line of the library (`python -m stylegan3`); the app's `sg3-explorer` script adds `gui` to it.

Each command lives in its own module exposing `register(subparsers)`, which adds an argparse
sub-parser whose `func` default is called with the parsed arguments. User errors (SG3Error, bad
arguments) print one line and exit 1; no traceback unless `--debug` is given.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

# Command modules, in the order `--help` lists them. A module that fails to import (e.g. an optional
# dependency missing) only disables its own command.
COMMAND_MODULES = [
    "stylegan3.cli.cmd_render",
    "stylegan3.cli.cmd_info",
    "stylegan3.cli.cmd_convert",
    "stylegan3.cli.cmd_spectra",
    "stylegan3.cli.cmd_spectra_plot",
    "stylegan3.cli.cmd_equivariance",
    "stylegan3.cli.cmd_sticking",
    "stylegan3.cli.cmd_video",
    "stylegan3.cli.cmd_timeline",
    "stylegan3.cli.cmd_directions",
    "stylegan3.cli.cmd_project",
    "stylegan3.cli.cmd_drag",
    "stylegan3.cli.cmd_doctor",
    "stylegan3.cli.cmd_bench",
    "stylegan3.cli.cmd_serve",
]


class UsageError(Exception):
    """A bad command line: reported as one `error:` line with exit status 1, like every other user error."""


class CommandParser(argparse.ArgumentParser):
    """argparse prints a usage block and exits 2; the README promises one line and exit 1 for every error.

    `add_subparsers` builds sub-parsers of the parent's class, so this covers every command.
    """

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        """As argparse, but unknown options are reported by the command they were given to."""
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            commands = next((a.choices for a in self._actions if isinstance(a, argparse._SubParsersAction)), {})
            owner = commands.get(getattr(namespace, "command", None), self)
            owner.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace


def build_parser(extra_modules: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser of the library's commands, after `extra_modules` (the app's `gui`, from `visualizer.cli`)."""
    parser = CommandParser(
        prog="sg3-explorer",
        description="Explore StyleGAN3 / StyleGAN2 generators."
        + (" Without a command, opens the GUI." if extra_modules else ""),
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in [*extra_modules, *COMMAND_MODULES]:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command not written yet
                continue
            raise
        module.register(sub)
    return parser


def _default_command(parser: argparse.ArgumentParser, argv: list[str], default: str | None) -> list[str]:
    """With a default command (the app's `gui`): `sg3-explorer`, `sg3-explorer NET.pkl` and
    `sg3-explorer --screenshot F` all mean that command; a near-miss of a command name is a typo."""
    commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    rest = [a for a in argv if a != "--debug"]
    if rest and (rest[0] in commands or rest[0] in ("-h", "--help")):
        return argv
    if default is None or default not in commands:
        return argv
    if rest and not rest[0].startswith("-") and not _is_path(rest[0]):
        close = difflib.get_close_matches(rest[0], list(commands), n=1, cutoff=0.75)
        if close:  # `sg3-explorer rendr ...` is a typo, not a network to open in the GUI
            raise UsageError(f"unknown command {rest[0]!r}; did you mean {close[0]!r}? (see sg3-explorer --help)")
    debug = ["--debug"] if "--debug" in argv else []
    return [*debug, default, *rest]


def _is_path(text: str) -> bool:
    try:
        return Path(text).expanduser().exists()
    except (OSError, ValueError):  # a name too long or with a NUL byte is no file either
        return False


def main(argv: list[str] | None = None, *, extra_modules: Sequence[str] = (),
         default_command: str | None = None) -> int:
    from stylegan3.errors import SG3Error

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(extra_modules)
    try:
        args = parser.parse_args(_default_command(parser, argv, default_command))
        if getattr(args, "func", None) is None:
            parser.error("no command given")
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    debug = args.debug
    from stylegan3.cli.progress import end_progress_lines

    try:
        result = args.func(args)
    except SG3Error as exc:
        if debug:
            raise
        end_progress_lines()
        print(f"error: {(str(exc).strip().splitlines() or [''])[0]}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        end_progress_lines()
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI promises one line, never a traceback dump
        if debug:
            raise
        from stylegan3.render.memory import is_out_of_memory, out_of_memory_message

        end_progress_lines()
        if is_out_of_memory(exc):
            doing = f"running {args.command}"
            print(f"error: {out_of_memory_message(exc, doing)}", file=sys.stderr)
            return 1
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"error: {type(exc).__name__}: {first} (run with --debug for details)", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
