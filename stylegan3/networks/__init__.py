"""Generators: StyleGAN3 (T/R) and StyleGAN2, constructible from official init kwargs."""

from __future__ import annotations

from typing import Any

import torch

KINDS = ("sg3", "sg2", "sgv1", "progan")  # the families' names (stylegan3.families)

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
    channels = kwargs.get("channels")  # TF-era families: one feature count per resolution
    if isinstance(channels, list) and not all(isinstance(v, int) and 0 < v <= LIMITS["channel_max"] for v in channels):
        raise ValueError(f"channels={channels} holds counts outside the supported range 1..{LIMITS['channel_max']}")
    for key in ("layer_features", "embed_features"):
        value = mapping.get(key)
        if isinstance(value, (int, float)) and not 0 <= value <= LIMITS["w_dim"]:
            raise ValueError(f"{key}={value} is outside the supported range 0..{LIMITS['w_dim']}")


def build_generator(kind: str, init_kwargs: dict[str, Any]) -> torch.nn.Module:
    """Instantiate a generator of `kind` (a family name: 'sg3', 'sg2') from official constructor kwargs."""
    from stylegan3 import families

    family = families.get(kind)
    kwargs = dict(init_kwargs)
    check_init_kwargs(kwargs)
    # Arguments that only matter for training; tolerated so any official pickle builds.
    for key in family.training_only_kwargs:
        kwargs.pop(key, None)
    return family.generator_class(**kwargs)


def network_kind(G: torch.nn.Module) -> str:
    """'SG3-T', 'SG3-R' or 'SG2' for display (see `stylegan3.families`); 'other' otherwise."""
    from stylegan3 import families

    return families.variant(G)
