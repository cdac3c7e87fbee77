"""The native network format: a `.safetensors` file with our metadata.

safetensors holds only raw tensors plus string metadata and its reader executes nothing, so a
converted network can be shared and loaded with no trust in its author. Metadata keys:
`format='sg3-explorer'`, `format_version='1'`, `kind` ('sg3'|'sg2'), `class_name` and
`init_kwargs` (JSON), which is all the builder needs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from stylegan3.documents.atomic import replace_atomically
from stylegan3.errors import NetworkLoadError, UnsupportedNetworkError
from stylegan3.loading.parsed import KINDS, ParsedNetwork

FORMAT = "sg3-explorer"
FORMAT_VERSION = "1"


def write_native(parsed: ParsedNetwork, path: str | os.PathLike) -> Path:
    """Write `parsed` as a native `.safetensors` file (atomically: a temp file renamed into place)."""
    tensors = {name: t.detach().to("cpu").contiguous().clone() for name, t in parsed.state_dict.items()}
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": parsed.kind,
        "class_name": parsed.class_name,
        "init_kwargs": json.dumps(parsed.init_kwargs, sort_keys=True),
    }
    path = Path(path)
    with replace_atomically(path, prefix=f".{path.name}.") as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def save_native(G: torch.nn.Module, path: str | os.PathLike) -> Path:
    """Save one of our generators (anything with `init_kwargs` and official tensor names) natively."""
    return write_native(parsed_from_module(G), path)


def parsed_from_module(G: torch.nn.Module) -> ParsedNetwork:
    """One of our built generators as data again (what `write_native` and `convert demo` need)."""
    state = G.state_dict()
    init_kwargs = getattr(G, "init_kwargs", None)
    if not isinstance(init_kwargs, dict):
        raise TypeError("save_native needs a generator with an `init_kwargs` dict")
    from stylegan3 import families

    family = families.detect(state)
    if family is None:
        raise TypeError("save_native needs a StyleGAN3 or StyleGAN2 generator")
    kind = family.name
    plain = json.loads(json.dumps(init_kwargs, default=_json_number))
    return ParsedNetwork(kind, "Generator", plain, dict(state))


def read_native(path: str | os.PathLike, label: str | None = None) -> ParsedNetwork:
    """Read a native file back into a `ParsedNetwork` (tensors on the CPU)."""
    label = label or str(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as file:
            metadata = file.metadata() or {}
            _check_metadata(metadata, label)
            state = {name: file.get_tensor(name) for name in file.keys()}
    except NetworkLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - the safetensors reader reports corruption with assorted types
        raise NetworkLoadError(label, f"corrupt .safetensors file: {_first_line(exc)}") from None
    try:
        init_kwargs = json.loads(metadata["init_kwargs"])
    except (KeyError, ValueError):
        raise UnsupportedNetworkError(label, "the file's init_kwargs metadata is missing or not JSON") from None
    if not isinstance(init_kwargs, dict):
        raise UnsupportedNetworkError(label, "the file's init_kwargs metadata is not a JSON object")
    return ParsedNetwork(
        kind=metadata["kind"],
        class_name=metadata.get("class_name", "Generator"),
        init_kwargs=init_kwargs,
        state_dict=state,
        extra={"source": label, "format": FORMAT, "format_version": metadata["format_version"]},
    )


def _check_metadata(metadata: dict[str, str], label: str) -> None:
    if metadata.get("format") != FORMAT:
        raise UnsupportedNetworkError(label, "a .safetensors file without sg3-explorer network metadata")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise UnsupportedNetworkError(
            label, f"sg3-explorer format version {metadata.get('format_version')!r} is not supported (expected 1)"
        )
    if metadata.get("kind") not in KINDS:
        raise UnsupportedNetworkError(label, f"unknown network kind {metadata.get('kind')!r} in the metadata")


def _json_number(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    raise TypeError(f"init_kwargs value of type {type(value).__name__} cannot be saved")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]
