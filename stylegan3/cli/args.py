"""Argument types shared by the commands (seed ranges, pairs of floats), each with a readable error."""

from __future__ import annotations

import argparse

import torch

from stylegan3.errors import SG3Error


def parse_seeds(text: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7] (argparse type: bounded, see `stylegan3.explore.interpolation.parse_seeds`)."""
    from stylegan3.explore.interpolation import parse_seeds as parse

    try:
        return parse(text)
    except SG3Error as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_pair(text: str) -> tuple[float, float]:
    """'0.25,-0.1' -> (0.25, -0.1)."""
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers 'X,Y', got {text!r}") from None
    return x, y


def add_network_argument(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument(
        "--network",
        metavar="SRC",
        default=None if required else "demo",
        required=required,
        help="network: .pkl / .safetensors path, http(s) URL, catalog name, or 'demo' (default: the "
        "embedded untrained demo network)",
    )


def add_device_argument(parser: argparse.ArgumentParser, default_help: str = "cuda if available, else cpu") -> None:
    """`--device cpu|cuda|cuda:N|mps`, checked by `pick_device` (one-line error, exit 1, for a bad one)."""
    parser.add_argument("--device", default=None, metavar="DEV",
                        help=f"cpu, cuda, cuda:N or mps (default: {default_help})")


def add_record_argument(parser: argparse.ArgumentParser, per: str, fields: str) -> None:
    """`--record FILE.jsonl`: the metric commands' run log, one JSON line per `per` holding `fields`."""
    parser.add_argument("--record", metavar="FILE.jsonl",
                        help=f"append one JSON line per {per} ({fields})")


def pick_device(name: str | None) -> torch.device:
    """`--device` value, or CUDA when available (one-line errors for unknown or unavailable devices)."""
    from stylegan3.loading.build import resolve_device

    return resolve_device(name)


def load_networks(sources: list[str] | None, device: torch.device) -> list[tuple[str, torch.nn.Module]]:
    """Load every `--network` (the embedded demo net when none) as `(name, G)` in eval mode on `device`."""
    from stylegan3 import load_network
    from stylegan3.loading.load import network_name

    if not sources:
        return [("demo", load_network("demo", device=device))]
    nets = []
    for src in sources:
        G = load_network(src, device=device)
        nets.append((network_name(src), G.eval().requires_grad_(False).to(device)))
    return nets
