"""Which synthesis layers compute in float16, and what that means on the device at hand.

A network's `num_fp16_res` marks its high-resolution layers for float16, but our layers (like the
official ones) use it only on a CUDA device and never with `force_fp32`; on a CPU everything is float32.
The GUI and `sg3-explorer info` count the same rows (`stylegan3.networks.layers.list_layers`: for StyleGAN2 each
block's conv0, conv1 and torgb, which all run in the block's dtype; `conv_clamp` clamps activations in
every layer and does not change the dtype) and say it with the same words.
"""

from __future__ import annotations

import torch


def fp16_layer_count(G: torch.nn.Module) -> tuple[int, int]:
    """(layers marked for float16, layers listed) over `list_layers(G)`."""
    from stylegan3.networks.layers import list_layers

    layers = list_layers(G)
    return sum(info.dtype == "float16" for info in layers), len(layers)


def precision_summary(fp16: int, total: int, device_type: str, force_fp32: bool = False) -> str:
    """One line on what runs: e.g. 'all float32 on the CPU (on a CUDA GPU 12 of 19 layers run in float16)'."""
    if fp16 == 0:
        return "all layers in float32"
    marked = f"{fp16} of {total} layers"
    if device_type != "cuda":
        return f"all float32 on the {device_type.upper()} (on a CUDA GPU {marked} run in float16)"
    if force_fp32:
        return f"all float32: force fp32 is on ({marked} would run in float16)"
    return f"{marked} in float16, the rest in float32"
