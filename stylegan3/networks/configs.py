"""Official generator configs (FFHQ, random weights) by name: what the benchmarks, the floor and `bench` build.

Timing and operation counts do not depend on the weights, so `official_config("SG3-T", 1024)` stands for
NVIDIA's stylegan3-t-ffhq-1024x1024 without a download; `tiny_config` is the same architecture shrunk to
seconds on a CPU (tests, smoke runs).
"""

from __future__ import annotations

from typing import Any

import torch

# Synthesis time per frame we aim for on one H100 at 1024x1024, batch 1 (issue 4).
TARGETS_MS = {"SG3-T": 3.0, "SG3-R": 5.0, "SG2": 6.0}

NETS = ("SG3-T", "SG3-R", "SG2")


def official_config(net: str, resolution: int = 1024) -> tuple[str, dict[str, Any]]:
    """(kind, init kwargs) of the official FFHQ generator of `net` at `resolution`."""
    common = dict(z_dim=512, w_dim=512, c_dim=0, img_resolution=resolution, img_channels=3)
    if net == "SG3-T":
        return "sg3", dict(
            common,
            channel_base=32768,
            channel_max=512,
            num_fp16_res=4,
            conv_clamp=256,
            magnitude_ema_beta=0.999,
            mapping_kwargs={"num_layers": 2},
        )
    if net == "SG3-R":
        kind, kwargs = official_config("SG3-T", resolution)
        kwargs.update(conv_kernel=1, use_radial_filters=True, channel_base=65536, channel_max=1024)
        return kind, kwargs
    if net == "SG2":
        kwargs = dict(channel_base=32768, channel_max=512, num_fp16_res=4, conv_clamp=256)
        return "sg2", dict(common, **kwargs, mapping_kwargs={"num_layers": 8})
    raise ValueError(f"unknown network {net!r} (one of {', '.join(NETS)})")


def tiny_config(net: str, resolution: int = 16) -> tuple[str, dict[str, Any]]:
    """The same architecture shrunk to seconds on a CPU: tiny resolution, channels and latent size."""
    kind, kwargs = official_config(net, resolution)
    kwargs.update(z_dim=32, w_dim=32, channel_base=256 if net != "SG3-R" else 512, channel_max=16)
    return kind, kwargs


def build_config_net(
    net: str, resolution: int, device: torch.device | str = "cpu", tiny: bool = False
) -> torch.nn.Module:
    """`net`'s official (or tiny) config at `resolution` with seeded random weights, ready for inference."""
    from stylegan3.networks import build_generator

    kind, kwargs = tiny_config(net, resolution) if tiny else official_config(net, resolution)
    torch.manual_seed(0)
    return build_generator(kind, kwargs).eval().requires_grad_(False).to(device)
