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
    fp16_layers: int  # synthesis layers that run in fp16 on a GPU (0 when the net is all fp32)

    def summary(self) -> str:
        cond = f", {self.c_dim} classes" if self.c_dim else ""
        return (
            f"{self.kind}  {self.resolution}x{self.resolution}  z {self.z_dim}  w {self.w_dim}  "
            f"ws {self.num_ws}{cond}"
        )


def _count_fp16_layers(G: torch.nn.Module) -> int:
    synthesis = getattr(G, "synthesis", None)
    if synthesis is None:
        return 0
    return sum(1 for m in synthesis.modules() if getattr(m, "use_fp16", False) is True)


def describe_network(G: torch.nn.Module, source: str) -> NetworkInfo:
    from stylegan3.networks import network_kind

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
        fp16_layers=_count_fp16_layers(G),
    )
