"""Generators: StyleGAN3 (T/R) and StyleGAN2, constructible from official init kwargs."""

from __future__ import annotations

from typing import Any

import torch

from stylegan3.errors import SG3Error
from stylegan3.networks import sg2, sg3

KINDS = ("sg3", "sg2")

# Far above every published configuration; a file asking for more is refused before anything is allocated
# (a few bytes of constructor arguments could otherwise demand gigabytes of weights).
LIMITS = {
    "z_dim": 4096, "w_dim": 4096, "c_dim": 100_000, "img_resolution": 8192, "img_channels": 16,
    "channel_max": 4096, "channel_base": 1 << 20, "num_layers": 64, "margin_size": 256,
}  # fmt: skip


def check_init_kwargs(kwargs: dict[str, Any]) -> None:
    """ValueError for sizes outside LIMITS (top level and mapping_kwargs)."""
    mapping = kwargs.get("mapping_kwargs") or {}
    for source in (kwargs, kwargs.get("synthesis_kwargs") or {}, mapping):
        for key, limit in LIMITS.items():
            value = source.get(key)
            if isinstance(value, (int, float)) and not 0 <= value <= limit:
                raise ValueError(f"{key}={value} is outside the supported range 0..{limit}")
    for key in ("layer_features", "embed_features"):
        value = mapping.get(key)
        if isinstance(value, (int, float)) and not 0 <= value <= LIMITS["w_dim"]:
            raise ValueError(f"{key}={value} is outside the supported range 0..{LIMITS['w_dim']}")


def build_generator(kind: str, init_kwargs: dict[str, Any]) -> torch.nn.Module:
    """Instantiate a generator of `kind` ('sg3' or 'sg2') from official constructor kwargs."""
    classes = {"sg3": sg3.Generator, "sg2": sg2.Generator}
    if kind not in classes:
        raise SG3Error(f"unknown generator kind {kind!r} (expected one of {', '.join(KINDS)})")
    kwargs = dict(init_kwargs)
    check_init_kwargs(kwargs)
    # Arguments that only matter for training; tolerated so any official pickle builds.
    for key in ("fused_modconv_default", "magnitude_ema_beta") if kind == "sg2" else ():
        kwargs.pop(key, None)
    return classes[kind](**kwargs)


def network_kind(G: torch.nn.Module) -> str:
    """'SG3-T', 'SG3-R' or 'SG2' for display (R means 1x1 convs with radial filters); 'other' otherwise."""
    kind = getattr(G, "kind", None)
    if kind == "sg2":
        return "SG2"
    if kind != "sg3":
        return "other"
    kwargs = getattr(G, "init_kwargs", {})
    if kwargs.get("conv_kernel", 3) == 1 or kwargs.get("use_radial_filters", False):
        return "SG3-R"
    return "SG3-T"
