"""`sg3-explorer info`: the architecture of a network, layer by layer."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print a network's architecture (kind, dims, every layer)")
    p.add_argument("source", nargs="?", default="demo", help="network path, URL, catalog name or 'demo'")
    p.add_argument("--catalog", action="store_true",
                   help="list the names accepted instead of a file: official pretrained networks and the demos")
    from stylegan3.cli.args import add_device_argument

    add_device_argument(p, default_help="cpu")
    p.set_defaults(func=run)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def describe(G, label: str, device_type: str = "cpu") -> str:
    """The table `info` prints; `device_type` is where the network would run (for the precision line)."""
    from stylegan3.networks import network_kind
    from stylegan3.networks.layers import list_layers
    from stylegan3.networks.precision import fp16_layer_count, precision_summary

    n_params = sum(p.numel() for p in G.parameters())
    lines = [
        f"network     {label}",
        f"kind        {network_kind(G)}",
        f"resolution  {G.img_resolution}x{G.img_resolution}, {G.img_channels} channels",
        f"z_dim {G.z_dim}  w_dim {G.w_dim}  c_dim {G.c_dim}  num_ws {G.num_ws}  parameters {n_params:,}",
        f"precision   {precision_summary(*fp16_layer_count(G), device_type)}",
        "",
        f"{'layer':<14}{'size':>10}{'channels':>10}{'cutoff':>10}{'stopband':>10}{'rate':>8}  dtype on a GPU",
    ]
    for info in list_layers(G):
        size = f"{info.width}x{info.height}"
        tf_scope = f"  TF {info.tf_name}" if info.tf_name else ""
        lines.append(
            f"{info.name:<14}{size:>10}{info.channels:>10}{_fmt(info.cutoff):>10}{_fmt(info.stopband):>10}"
            f"{_fmt(info.sampling_rate):>8}  {info.dtype}{tf_scope}"
        )
    return "\n".join(lines)


def describe_tf_names(parsed) -> str:
    """For a TensorFlow-era pickle: which TF variable each of our tensors came from, and how it was converted."""
    extra = parsed.extra
    settings = extra.get("tf_static_kwargs", {})
    psi = extra.get("tf_truncation_psi")
    functions = " / ".join(extra.get("tf_functions", []))
    if parsed.kind == "sg2":
        origin = "static_kwargs" if "truncation_psi" in settings else "G_main's default"
        header = [f"TensorFlow  {functions} (converted as NVIDIA's legacy.py does)",
                  f"TF truncation_psi {psi} ({origin}; not applied here, use --psi)"]
    else:
        header = [f"TensorFlow  {functions} (read as data, see docs/LINEAGE.md)"]
        if "tf_writer" in extra:
            header.append(f"written by  {extra['tf_writer']}")
        if parsed.kind == "sgv1":
            origin = "static_kwargs" if "truncation_psi" in settings else "G_style's default"
            header.append(f"TF truncation_psi {psi} ({origin}; not applied here, use --psi); cutoff "
                          f"{extra.get('tf_truncation_cutoff')} layers (applied when psi != 1)")
        if extra.get("tf_ignored_settings"):
            header.append(f"ignored     {', '.join(extra['tf_ignored_settings'])} (unknown to the build function, "
                          "which ignores them too)")
        if extra.get("tf_lod"):
            header.append(f"saved during progressive growing: lod {extra['tf_lod']:g}, drawn as TF fades it")
    lines = ["", *header, "", f"{'tensor':<40}{'shape':<18}TensorFlow variable"]
    layout = extra.get("tf_layout", {})
    for name, tf_name in extra["tf_names"].items():
        shape = "x".join(str(n) for n in parsed.state_dict[name].shape) or "scalar"
        note = f" ({layout[name]})" if name in layout else ""
        lines.append(f"{name:<40}{shape:<18}{tf_name}{note}")
    return "\n".join(lines)


def catalog_listing() -> str:
    from stylegan3.loading.catalog import CATALOG, DEMO_NAMES

    lines = [f"{'name':<34}{'kind':<7}resolution"]
    lines += [f"{e.name:<34}{e.kind:<7}{e.resolution}x{e.resolution}" + ("  *" if e.note else "")
              for e in CATALOG.values()]
    notes = sorted({e.note for e in CATALOG.values() if e.note})
    lines += [f"* {note}" for note in notes]
    lines += ["", "built-in untrained demo networks (no download): " + ", ".join(DEMO_NAMES)]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import torch

    from stylegan3.cli.args import pick_device
    from stylegan3.loading import build_network, read_network
    from stylegan3.loading.load import is_demo_source, load_network

    if args.catalog:
        print(catalog_listing())
        return 0
    device = pick_device(args.device or "cpu")
    # What the precision line describes: the device asked for, else what a render here would use.
    here = device.type if args.device else ("cuda" if torch.cuda.is_available() else "cpu")
    if is_demo_source(args.source):  # read only: no kernel build, no self-check (see load_network)
        G = load_network(args.source, device=device, self_check=False)
        print(describe(G, getattr(G, "demo_name", str(args.source)), here))
        return 0
    parsed = read_network(args.source)
    G = build_network(parsed, device=device, label=str(args.source))
    print(describe(G, getattr(G, "demo_name", str(args.source)), here))
    if parsed.extra.get("tf_names"):
        print(describe_tf_names(parsed))
    return 0
