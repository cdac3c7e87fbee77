"""`sg3-explorer info`: the architecture of a network, layer by layer."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print a network's architecture (kind, dims, every layer)")
    p.add_argument("source", nargs="?", default="demo", help="network path, URL, catalog name or 'demo'")
    from stylegan3.cli.args import add_device_argument

    add_device_argument(p, default_help="cpu")
    p.set_defaults(func=run)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def describe(G, label: str) -> str:
    from stylegan3.layers import list_layers
    from stylegan3.networks import network_kind

    n_params = sum(p.numel() for p in G.parameters())
    lines = [
        f"network     {label}",
        f"kind        {network_kind(G)}",
        f"resolution  {G.img_resolution}x{G.img_resolution}, {G.img_channels} channels",
        f"z_dim {G.z_dim}  w_dim {G.w_dim}  c_dim {G.c_dim}  num_ws {G.num_ws}  parameters {n_params:,}",
        "",
        f"{'layer':<14}{'size':>10}{'channels':>10}{'cutoff':>10}{'stopband':>10}{'rate':>8}  dtype",
    ]
    for info in list_layers(G):
        size = f"{info.width}x{info.height}"
        lines.append(
            f"{info.name:<14}{size:>10}{info.channels:>10}{_fmt(info.cutoff):>10}{_fmt(info.stopband):>10}"
            f"{_fmt(info.sampling_rate):>8}  {info.dtype}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import stylegan3
    from stylegan3.cli.args import pick_device

    G = stylegan3.load_network(args.source, device=pick_device(args.device or "cpu"))
    print(describe(G, getattr(G, "demo_name", str(args.source))))
    return 0
