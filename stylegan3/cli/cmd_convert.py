"""`sg3-explorer convert IN OUT`: rewrite a network pickle as a native `.safetensors` file.

The pickle is read through the safe loader and the result is checked by building the generator
with a strict weight load before anything is written, so a converted file always loads. The
output needs no trust to open (safetensors holds data only), which makes it the format to share.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stylegan3.errors import SG3Error


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a network pickle to the safe .safetensors format",
        description="Read a network (pickle path, URL, catalog name or 'demo') safely and write it as .safetensors.",
    )
    parser.add_argument("input", help="network pickle: path, http(s) URL, catalog name or 'demo'")
    parser.add_argument("output", help="where to write the .safetensors file (the name must end in .safetensors)")
    parser.add_argument("--key", default="G_ema", help="network to take from the pickle (default: G_ema)")
    parser.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    from stylegan3.cli.args import add_device_argument

    add_device_argument(parser, default_help="cpu; where the network is built to validate it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stylegan3.cli.args import pick_device
    from stylegan3.loading import build_network, read_network, write_native

    device = pick_device(args.device or "cpu")

    output = Path(args.output)
    if output.suffix.lower() != ".safetensors":  # the name says the format: a .pkl must not hold safetensors
        raise SG3Error(f"{output}: convert writes .safetensors files only (name it "
                       f"{output.with_suffix('.safetensors').name})")
    if output.exists() and not args.force:
        raise SG3Error(f"{output}: already exists (use --force to overwrite)")
    if output.is_dir():
        raise SG3Error(f"{output}: is a directory")
    if not output.parent.is_dir():
        raise SG3Error(f"{output}: folder {output.parent} does not exist")
    parsed = read_network(args.input, key=args.key)
    build_network(parsed, device=device, label=args.input)  # validates names, shapes and kwargs
    write_native(parsed, output)
    size_mb = output.stat().st_size / 2**20
    resolution = parsed.init_kwargs.get("img_resolution", "?")
    print(f"wrote {output} ({parsed.variant}, {resolution}x{resolution}, "
          f"{len(parsed.state_dict)} tensors, {size_mb:.1f} MiB)")
    return 0
