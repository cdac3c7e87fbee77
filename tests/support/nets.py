"""The one factory of tiny test networks: every test that needs a real generator (our own StyleGAN code, random
weights, built in milliseconds and rendered in a fraction of a second on a CPU) gets it here, and writes it
to a file here, so a change of the networks' constructor touches one place.

A net is fully determined by its arguments (the seed included), so two calls with equal arguments give equal
weights: tests that compare numbers between runs, processes or machines can rebuild the same net anywhere.
Official-layout pickles of these nets are written by `tests.support.official_fakes`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

KINDS = ("SG3-T", "SG3-R", "SG2")
# Family names are accepted too ("sg3" is the translation-equivariant SG3-T), as the loaders name them.
_ALIASES = {"SG3T": "SG3-T", "SG3": "SG3-T", "SG3R": "SG3-R", "SG2": "SG2"}

# The smallest size rendered end to end (CLI, timeline, directions, projection): 16 px, and for SG3 6 ws of 8.
# Those tests pin these shapes (and the projection test these weights): `tiny_net(kind, **SMALL_16PX)`.
SMALL_16PX: dict[str, Any] = dict(res=16, z_dim=8, w_dim=8, mapping_layers=1, num_critical=1, noise=None)


def variant(kind: str) -> str:
    """'SG3-T', 'SG3-R' or 'SG2' for any spelling a test uses ('sg3-r', 'sg3r', 'sg3', 'SG2' ...)."""
    name = _ALIASES.get(kind.upper().replace("-", "").replace("_", ""))
    if name is None:
        raise ValueError(f"unknown network kind {kind!r} (one of {', '.join(KINDS)})")
    return name


def tiny_net(
    kind: str = "SG3-T",
    res: int = 32,
    seed: int = 0,
    *,
    z_dim: int = 16,
    w_dim: int = 16,
    c_dim: int = 0,
    channel_base: int = 256,
    channel_max: int = 16,
    mapping_layers: int | None = 2,
    num_layers: int | None = 4,
    num_critical: int | None = None,
    noise: float | None = 0.3,
    perturb: float = 0.0,
    official: bool = False,
    **kwargs: Any,
) -> torch.nn.Module:
    """A random-weight generator of `kind` at `res`², in eval mode without gradients.

    The sizes default to the smallest that still exercise every code path (16 channels, 4 SG3 layers,
    a 2-layer mapping); `None` for `mapping_layers` / `num_layers` / `num_critical` keeps the family's default.
    `noise` sets SG2's noise strengths (zero at initialisation, so noise would not show otherwise).
    `perturb` adds that much seeded Gaussian noise to every floating-point tensor, so a loader that drops
    or swaps a tensor (even a zero-initialised bias) changes the output. `official=True` builds the
    official architecture shrunk by `stylegan3.networks.configs.tiny_config` (float16 layers, clamping,
    the official mapping depth: what the benchmarks and the kernels' tests run) as initialised; the sizes
    above are then ignored. Extra `kwargs` go to the constructor (`conv_kernel`, `num_fp16_res`, ...).
    """
    from stylegan3.networks import build_generator
    from stylegan3.networks.configs import tiny_config

    name = variant(kind)
    if official:
        family, init = tiny_config(name, res)
        noise = None
    else:
        family = "sg2" if name == "SG2" else "sg3"
        init = dict(z_dim=z_dim, w_dim=w_dim, c_dim=c_dim, img_resolution=res, img_channels=3,
                    channel_base=channel_base, channel_max=channel_max)
        if mapping_layers is not None:
            init["mapping_kwargs"] = dict(num_layers=mapping_layers)
        if family == "sg3":  # SG3's depth and critically sampled layers (SG2 has neither)
            sg3_only = dict(num_layers=num_layers, num_critical=num_critical)
            init.update({key: value for key, value in sg3_only.items() if value is not None})
        if name == "SG3-R":
            init.update(conv_kernel=1, use_radial_filters=True)
    init.update(kwargs)
    torch.manual_seed(seed)
    G = build_generator(family, init).eval().requires_grad_(False)
    with torch.no_grad():
        if noise is not None:
            for key, p in G.named_parameters():
                if key.endswith("noise_strength"):
                    p.fill_(noise)
        if perturb:
            gen = torch.Generator().manual_seed(seed + 1)
            for tensor in G.state_dict().values():
                if tensor.is_floating_point():
                    tensor.add_(perturb * torch.randn(tensor.shape, generator=gen))
    return G


def save_tiny(path: str | Path, kind: str = "SG3-T", **kwargs: Any) -> Path:
    """`tiny_net(kind, **kwargs)` in the native .safetensors format, so a test loads it like a user's file."""
    from stylegan3.loading.native import save_native

    return save_native(tiny_net(kind, **kwargs), path)


def write_tiny_nets(folder: Path, res: int = 32) -> dict[str, Path]:
    """One native file per kind in `folder` ({kind: path}): what the render service is allowed to load."""
    folder.mkdir(parents=True, exist_ok=True)
    return {kind: save_tiny(folder / f"tiny-{kind.lower()}.safetensors", kind, res=res) for kind in KINDS}


def save_slow_net(nets, res: int) -> Path:
    """An SG3-T net at `res` beside the `write_tiny_nets` files `nets`, so a server may load it.

    Slow enough on a CPU for a test to cancel or kill it mid-job."""
    from stylegan3.loading.native import save_native

    return save_native(tiny_net("SG3-T", res=res), Path(nets["SG2"]).parent / f"slow-sg3t-{res}.safetensors")
