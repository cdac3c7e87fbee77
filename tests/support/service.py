"""Tiny networks of every family for the request, pipeline and render-service tests (built by our code)."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import torch

KINDS = ("SG3-T", "SG3-R", "SG2")


def tiny_net(kind: str = "SG3-T", res: int = 32, seed: int = 0) -> torch.nn.Module:
    """A random-weight generator of `kind` that renders in a fraction of a second on a CPU."""
    from stylegan3.networks import build_generator

    torch.manual_seed(seed)
    kwargs = dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=res, img_channels=3, channel_base=256,
                  channel_max=16, mapping_kwargs=dict(num_layers=2))
    if kind.startswith("SG3"):
        kwargs.update(num_layers=4)
    if kind == "SG3-R":
        kwargs.update(conv_kernel=1, use_radial_filters=True)
    G = build_generator("sg2" if kind == "SG2" else "sg3", kwargs).eval().requires_grad_(False)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):  # zero at initialisation: make noise visible
                p.fill_(0.3)
    return G


def write_tiny_nets(folder: Path, res: int = 32) -> dict[str, Path]:
    """One native file per kind in `folder`: {kind: path}."""
    from stylegan3.loading.native import save_native

    folder.mkdir(parents=True, exist_ok=True)
    return {kind: save_native(tiny_net(kind, res), folder / f"tiny-{kind.lower()}.safetensors") for kind in KINDS}


@contextlib.contextmanager
def running_server(allow: list[str], token: str | None = None, host: str = "127.0.0.1"):
    """A RenderServer on a free loopback port, served by a thread; stopped (and joined) on exit."""
    from stylegan3.service.policy import AllowList
    from stylegan3.service.server import RenderServer

    server = RenderServer(host, 0, AllowList.parse(allow), token=token, device="cpu")
    thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=15)
        assert not thread.is_alive(), "server thread did not stop"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
