"""What the Network panel shows about a loaded generator, computed headless from the module."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class NetworkInfo:
    source: str
    kind: str  # 'SG3-T' | 'SG3-R' | 'SG2'
    resolution: int
    img_channels: int
    z_dim: int
    w_dim: int
    c_dim: int
    num_ws: int
    num_params: int
    fp16_layers: int  # rows of `list_layers` marked for float16 (which runs only on a CUDA device)
    num_layers: int = 0  # rows of `list_layers`

    def precision(self, device_type: str, force_fp32: bool = False) -> str:
        """What runs on `device_type`, in the words `sg3-explorer info` uses."""
        from stylegan3.precision import precision_summary

        return precision_summary(self.fp16_layers, self.num_layers, device_type, force_fp32)

    def summary(self) -> str:
        cond = f", {self.c_dim} classes" if self.c_dim else ""
        return (
            f"{self.kind}  {self.resolution}x{self.resolution}  z {self.z_dim}  w {self.w_dim}  "
            f"ws {self.num_ws}{cond}"
        )


def _count_fp16_layers(G: torch.nn.Module) -> tuple[int, int]:
    from stylegan3.precision import fp16_layer_count

    try:
        return fp16_layer_count(G)
    except AttributeError:  # not one of our generators (a test's stand-in): nothing to count
        return 0, 0


def describe_network(G: torch.nn.Module, source: str) -> NetworkInfo:
    from stylegan3.networks import network_kind

    fp16_layers, num_layers = _count_fp16_layers(G)
    return NetworkInfo(
        source=str(source),
        kind=network_kind(G),
        resolution=int(G.img_resolution),
        img_channels=int(G.img_channels),
        z_dim=int(G.z_dim),
        w_dim=int(G.w_dim),
        c_dim=int(G.c_dim),
        num_ws=int(G.num_ws),
        num_params=sum(p.numel() for p in G.parameters()),
        fp16_layers=fp16_layers,
        num_layers=num_layers,
    )
