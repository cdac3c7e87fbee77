"""Turn a `ParsedNetwork` into one of our generator modules with the file's weights.

Our modules come from `stylegan3.networks.build_generator` with the file's constructor kwargs;
the weights are copied in with a strict `load_state_dict`, after a name/shape comparison that
turns a mismatch into one readable line instead of torch's multi-line report.
"""

from __future__ import annotations

import re

import torch

from stylegan3.errors import SG3Error, UnsupportedNetworkError
from stylegan3.loading.parsed import ParsedNetwork

_LISTED = 3


DEVICE_HELP = "cpu, cuda, cuda:N or mps"


def resolve_device(device: str | torch.device | None) -> torch.device:
    """None means the GPU when there is one, else the CPU. Strings are `cpu`, `cuda`, `cuda:N` or `mps`;
    anything else, or a device this machine does not have, is a one-line SG3Error."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        target = device
    else:
        text = str(device).strip().lower()
        m = re.fullmatch(r"(cpu|cuda|mps)(?::(\d+))?", text)
        if m is None or (m.group(1) != "cuda" and m.group(2) not in (None, "0")):
            raise SG3Error(f"unknown device {str(device)!r} (expected {DEVICE_HELP})")
        target = torch.device(m.group(1), int(m.group(2))) if m.group(2) and m.group(1) == "cuda" \
            else torch.device(m.group(1))
    if target.type == "cuda":
        if not torch.cuda.is_available():
            raise SG3Error(f"device {str(device)!r} asked for, but no CUDA GPU is available to PyTorch "
                           f"{torch.__version__}" + (" (a CPU-only build)" if torch.version.cuda is None else ""))
        count = torch.cuda.device_count()
        if target.index is not None and target.index >= count:
            raise SG3Error(f"device {str(device)!r} asked for, but this machine has {count} CUDA GPU(s): "
                           f"cuda:0 to cuda:{count - 1}")
    elif target.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise SG3Error(f"device {str(device)!r} asked for, but Apple's MPS backend is not available here")
    elif target.type != "cpu":
        raise SG3Error(f"unsupported device {str(device)!r} (expected {DEVICE_HELP})")
    return target


def build_network(parsed: ParsedNetwork, device: str | torch.device | None = None, label: str = "") -> torch.nn.Module:
    """Build the generator described by `parsed`, load its weights, and ready it for inference."""
    label = label or str(parsed.extra.get("source", "network"))
    target = resolve_device(device)
    from stylegan3.networks import build_generator

    try:
        G = build_generator(parsed.kind, dict(parsed.init_kwargs))
    except SG3Error:
        raise
    except Exception as exc:  # noqa: BLE001 - unknown or bad constructor arguments from the file
        raise UnsupportedNetworkError(
            label, f"cannot build a {parsed.variant} generator from its constructor arguments: {exc}"
        ) from None
    problem = state_dict_mismatch(G.state_dict(), parsed.state_dict)
    if problem:
        raise UnsupportedNetworkError(label, f"the tensors do not fit a {parsed.variant} generator: {problem}")
    G.load_state_dict(parsed.state_dict, strict=True)
    G.eval().requires_grad_(False)
    return G.to(target)


def state_dict_mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str:
    """'' when names and shapes agree; otherwise a short description of the first differences."""
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in expected]
    reshaped = [
        f"{name} is {list(found[name].shape)}, expected {list(tensor.shape)}"
        for name, tensor in expected.items()
        if name in found and found[name].shape != tensor.shape
    ]
    parts = []
    for title, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", reshaped)):
        if names:
            more = f" (+{len(names) - _LISTED} more)" if len(names) > _LISTED else ""
            parts.append(f"{title}: {', '.join(names[:_LISTED])}{more}")
    return "; ".join(parts)
