"""Layer inspection: what each synthesis layer is (size, channels, band limits) and what it outputs.

SG3 layers are the official `L{idx}_{size}_{channels}` modules plus the Fourier `input`; SG2 layers are
each block's convolutions and ToRGB (`b64.conv0`, `b64.torgb`, ...). A capture is an argument of synthesis
(`G.synthesis(ws, capture=names)` returns (image, {name: output})), not a forward hook: the network is shared
by the renderer, comparison panes and analysis jobs, and a hook on it would fire in everyone's pass, force
private copies and locks, and rule out CUDA-graph replay (a graph returns the captured layers as outputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class LayerInfo:
    name: str  # attribute path below G.synthesis
    width: int
    height: int
    channels: int
    dtype: str  # compute dtype on a GPU with fp16 allowed
    sampling_rate: float | None = None  # samples per unit length (SG3); image resolution for SG2
    cutoff: float | None = None  # f_c (SG3)
    stopband: float | None = None  # f_t = f_c + f_h (SG3)
    half_width: float | None = None

    @property
    def nyquist(self) -> float | None:
        return None if self.sampling_rate is None else self.sampling_rate / 2


def list_layers(G: torch.nn.Module) -> list[LayerInfo]:
    """Every inspectable synthesis layer, input first, output last."""
    syn = G.synthesis
    if hasattr(syn, "input"):
        inp = syn.input
        out = [
            LayerInfo(
                "input",
                int(inp.size[0]),
                int(inp.size[1]),
                int(inp.channels),
                "float32",
                float(inp.sampling_rate),
                float(inp.bandwidth),
                None,
                None,
            )
        ]
        for name in syn.layer_names:
            layer = getattr(syn, name)
            out.append(
                LayerInfo(
                    name,
                    int(layer.out_size[0]),
                    int(layer.out_size[1]),
                    int(layer.out_channels),
                    "float16" if layer.use_fp16 else "float32",
                    float(layer.out_sampling_rate),
                    float(layer.out_cutoff),
                    float(layer.out_cutoff + layer.out_half_width),
                    float(layer.out_half_width),
                )
            )
        return out
    out = []
    for res in syn.block_resolutions:
        block = getattr(syn, f"b{res}")
        dtype = "float16" if block.use_fp16 else "float32"
        for part in ("conv0", "conv1", "torgb"):
            module = getattr(block, part, None)
            if module is None:
                continue
            out.append(LayerInfo(f"b{res}.{part}", res, res, int(module.out_channels), dtype, float(res)))
    return out


def capture_layers(
    G: torch.nn.Module, ws: torch.Tensor, names: list[str] | None = None, **synthesis_kwargs: Any
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Run synthesis once and return (image, {layer name: output}) for `names` (default: all, in order)."""
    wanted = [info.name for info in list_layers(G)] if names is None else list(names)
    return G.synthesis(ws, capture=wanted, **synthesis_kwargs)
