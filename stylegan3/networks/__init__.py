"""Generators: StyleGAN3 (T/R) and StyleGAN2, constructible from official init kwargs."""

from __future__ import annotations

from typing import Any

import torch

from stylegan3.errors import SG3Error
from stylegan3.networks import sg2, sg3

KINDS = ("sg3", "sg2")


def build_generator(kind: str, init_kwargs: dict[str, Any]) -> torch.nn.Module:
    """Instantiate a generator of `kind` ('sg3' or 'sg2') from official constructor kwargs."""
    classes = {"sg3": sg3.Generator, "sg2": sg2.Generator}
    if kind not in classes:
        raise SG3Error(f"unknown generator kind {kind!r} (expected one of {', '.join(KINDS)})")
    kwargs = dict(init_kwargs)
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
