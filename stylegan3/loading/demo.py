"""The embedded demo networks: untrained, deterministic, built by our own code.

They let the CLI and the app run offline on a fresh machine. Random weights alone give a flat,
low-contrast image, so after construction each StyleGAN3 layer's `magnitude_ema` is set to the
measured mean square of its input (what training would have tracked) and the output is scaled to a
visible range. A higher first cutoff than the official configs (12 instead of 2) puts detail into
every layer, so the result is a colourful band-limited texture that shows every control at work.
Nothing here was trained and no pixels resemble any dataset.
"""

from __future__ import annotations

import functools
import hashlib
import json

import torch

from stylegan3.documents.atomic import replace_atomically
from stylegan3.networks import build_generator
from stylegan3.ops import backend

DEMO_SEED = 20211018
DEMO_VERSION = 3  # bump when construction or calibration changes, to invalidate cached weights (3: reference ops)

DEMO_CONFIGS: dict[str, dict] = {
    "sg3-t": dict(
        z_dim=128, w_dim=128, c_dim=0, img_resolution=256, img_channels=3,
        channel_base=4096, channel_max=128, mapping_kwargs={"num_layers": 2},
        first_cutoff=12, first_stopband=2**4.2,
    ),
    "sg3-r": dict(
        z_dim=128, w_dim=128, c_dim=0, img_resolution=256, img_channels=3,
        channel_base=8192, channel_max=256, conv_kernel=1, use_radial_filters=True,
        mapping_kwargs={"num_layers": 2}, first_cutoff=12, first_stopband=2**4.2,
    ),
    "sg2": dict(
        z_dim=128, w_dim=128, c_dim=0, img_resolution=256, img_channels=3,
        channel_base=4096, channel_max=128, mapping_kwargs={"num_layers": 4},
    ),
}  # fmt: skip

DEMO_NAMES = {kind: f"demo-{kind} (untrained)" for kind in DEMO_CONFIGS}


def _calibrate_sg3(G: torch.nn.Module, num_samples: int = 2) -> None:
    """Set each layer's magnitude_ema to its input's mean square, then centre and scale the output."""
    z = torch.randn([num_samples, G.z_dim])
    ws = G.mapping(z, None)
    x = G.synthesis.input(ws[:, 0])
    for name, w in zip(G.synthesis.layer_names, ws.unbind(1)[1:], strict=True):
        layer = getattr(G.synthesis, name)
        layer.magnitude_ema.copy_(x.square().mean())
        x = layer(x, w)
    # The last layer is linear (bias, then output_scale), so its bias and weight set mean and contrast.
    last = getattr(G.synthesis, G.synthesis.layer_names[-1])
    out = x * G.synthesis.output_scale
    scale = 0.5 / max(float(out.std()), 1e-8)
    last.weight.mul_(scale)
    last.bias.copy_((last.bias - out.mean(dim=[0, 2, 3]) / G.synthesis.output_scale) * scale)


def _calibrate_sg2(G: torch.nn.Module, num_samples: int = 2) -> None:
    """Give the noise inputs some strength and scale the ToRGB layers to a visible output range."""
    for module in G.modules():
        if hasattr(module, "noise_strength"):
            module.noise_strength.fill_(0.1)
    z = torch.randn([num_samples, G.z_dim])
    img = G(z, None, noise_mode="const")
    scale = 0.5 / max(float(img.std()), 1e-8)
    for module in G.modules():
        if module.__class__.__name__ == "ToRGBLayer":
            module.weight.mul_(scale)
            module.bias.mul_(scale)


def _construct(kind: str) -> dict[str, torch.Tensor]:
    """Calibrate on the reference ops: the weights then do not depend on which kernels a machine has, and building
    the demo (e.g. for `info demo` on a cold cache) compiles and self-checks nothing."""
    with torch.random.fork_rng(devices=[]), torch.no_grad(), backend.serving(None, "cpu"):
        torch.manual_seed(DEMO_SEED)
        G = build_generator("sg2" if kind == "sg2" else "sg3", DEMO_CONFIGS[kind]).eval()
        (_calibrate_sg2 if kind == "sg2" else _calibrate_sg3)(G)
    return {k: v.detach().clone().contiguous() for k, v in G.state_dict().items()}


def _cache_path(kind: str):
    from stylegan3.loading.download import cache_dir

    key = json.dumps([DEMO_VERSION, DEMO_SEED, kind, DEMO_CONFIGS[kind], torch.__version__.split("+")[0]])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / "demo" / f"{kind}-{digest}.safetensors"


@functools.lru_cache(maxsize=4)
def _build(kind: str) -> dict[str, torch.Tensor]:
    """Calibration costs seconds on a CPU, so the result is cached on disk (weights we made ourselves)."""
    from safetensors.torch import load_file, save_file

    path = _cache_path(kind)
    try:
        cached = load_file(str(path))
        expected = build_generator("sg2" if kind == "sg2" else "sg3", DEMO_CONFIGS[kind]).state_dict()
        if {k: tuple(v.shape) for k, v in cached.items()} == {k: tuple(v.shape) for k, v in expected.items()}:
            return cached
    except Exception:  # noqa: BLE001 - missing or damaged cache: rebuild
        pass
    state = _construct(kind)  # also when the cache no longer fits the network code
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replace_atomically(path, suffix=".tmp") as tmp:
            save_file(state, str(tmp))
    except OSError:
        pass  # read-only home: keep working without the cache
    return state


def demo_network(kind: str = "sg3-t", device: torch.device | str = "cpu") -> torch.nn.Module:
    """A fresh copy of the deterministic demo generator of `kind` ('sg3-t', 'sg3-r' or 'sg2')."""
    if kind not in DEMO_CONFIGS:
        raise ValueError(f"unknown demo network {kind!r}; choose from {', '.join(DEMO_CONFIGS)}")
    G = build_generator("sg2" if kind == "sg2" else "sg3", DEMO_CONFIGS[kind])
    G.load_state_dict(_build(kind))
    G.demo_name = DEMO_NAMES[kind]
    return G.eval().requires_grad_(False).to(device)
