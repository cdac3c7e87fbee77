"""Argument types shared by the commands (seed ranges, pairs of floats), each with a readable error."""

from __future__ import annotations

import argparse


def parse_seeds(text: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7]."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                cut = part.index("-", 1)
                lo_i, hi_i = int(part[:cut]), int(part[cut + 1 :])
                if hi_i < lo_i:
                    raise ValueError
                seeds.extend(range(lo_i, hi_i + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed list {text!r} (expected e.g. 0-3,7)") from None
    if not seeds:
        raise argparse.ArgumentTypeError("empty seed list")
    return seeds


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


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
