"""`NetworkInfo`: what panels and clients may know about a network, as plain serializable data.

The renderer owns the module; everything else (panels, a laptop talking to a GPU server, session files) sees
this record: family and variant, sizes, the layer table with band limits, and capabilities. Panels that
decide "show the rotate slider" read `capabilities`, never the module.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from stylegan3 import families
from stylegan3.documents import jsoncodec
from stylegan3.families.base import Capabilities
from stylegan3.networks.layers import LayerInfo, list_layers


@dataclass(frozen=True)
class NetworkInfo:
    source: str
    family: str  # 'sg3' | 'sg2' | 'other'
    kind: str  # 'SG3-T' | 'SG3-R' | 'SG2' | 'other'
    resolution: int
    img_channels: int
    z_dim: int
    w_dim: int
    c_dim: int
    num_ws: int
    num_params: int
    fp16_layers: int  # rows of the layer table marked for float16 (which runs only on a CUDA device)
    capabilities: Capabilities
    layers: tuple[LayerInfo, ...] = ()
    device: str = "cpu"
    impl: str = "ref"

    def summary(self) -> str:
        cond = f", {self.c_dim} classes" if self.c_dim else ""
        return (f"{self.kind}  {self.resolution}x{self.resolution}  z {self.z_dim}  w {self.w_dim}  "
                f"ws {self.num_ws}{cond}")

    @property
    def num_layers(self) -> int:
        """Rows of the layer table (what `fp16_layers` counts out of)."""
        return len(self.layers)

    @property
    def device_type(self) -> str:
        """'cpu', 'cuda', 'mps': the kind of device the renderer holding the network uses."""
        return self.device.split(":", 1)[0]

    def precision(self, device_type: str | None = None, force_fp32: bool = False) -> str:
        """What runs in float16 on `device_type` (default: the renderer's), in the words `sg3-explorer info` uses
        (Network and Performance panels)."""
        from stylegan3.networks.precision import precision_summary

        return precision_summary(self.fp16_layers, self.num_layers, device_type or self.device_type, force_fp32)

    def layer(self, name: str) -> LayerInfo | None:
        return next((info for info in self.layers if info.name == name), None)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(info.name for info in self.layers)

    def to_dict(self) -> dict:
        return jsoncodec.to_plain(self)

    @staticmethod
    def from_dict(data: object) -> NetworkInfo:
        return jsoncodec.from_plain(NetworkInfo, data)


def describe(G: torch.nn.Module, source: str, device: str | None = None, impl: str | None = None) -> NetworkInfo:
    """The NetworkInfo of a built generator (computed once, when the renderer loads it)."""
    family = families.family_of(G)
    try:
        layers = tuple(list_layers(G))
    except AttributeError:  # a module that is not one of our generators: no layer table
        layers = ()
    if device is None or impl is None:
        from stylegan3.networks.device import device_of
        from stylegan3.ops import backend

        dev = device_of(G)
        device = str(dev) if device is None else device
        impl = backend.active_impl(dev) if impl is None else impl
    return NetworkInfo(
        source=str(source),
        family=family.name if family is not None else "other",
        kind=families.variant(G),
        resolution=int(G.img_resolution),
        img_channels=int(G.img_channels),
        z_dim=int(G.z_dim),
        w_dim=int(G.w_dim),
        c_dim=int(G.c_dim),
        num_ws=int(G.num_ws),
        num_params=sum(p.numel() for p in G.parameters()),
        fp16_layers=sum(info.dtype == "float16" for info in layers),
        capabilities=families.capabilities(G),
        layers=layers,
        device=device,
        impl=impl,
    )


__all__ = ["NetworkInfo", "describe"]
