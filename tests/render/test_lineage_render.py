"""StyleGAN (v1) and ProGAN networks render through the request pipeline like the other families."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan3.documents.request import FFTView, Latent, LayerView, Noise, RenderRequest, StyleMix, Truncation
from stylegan3.loading import load_network
from stylegan3.networks.info import describe
from stylegan3.networks.latents import z_from_seed
from stylegan3.render.images import to_numpy_rgb
from stylegan3.render.pipeline import render_request
from tests.support.tf_lineage_fakes import PROGAN_CONFIGS, V1_CONFIGS, progan_snapshot, v1_snapshot


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lineage")
    (folder / "v1.pkl").write_bytes(v1_snapshot(V1_CONFIGS["conditional"]))
    (folder / "pro.pkl").write_bytes(progan_snapshot(PROGAN_CONFIGS["conditional"]))
    return {name: load_network(str(folder / f"{name}.pkl"), device="cpu") for name in ("v1", "pro")}


def _z(seed: int, z_dim: int) -> torch.Tensor:
    return torch.from_numpy(np.asarray(z_from_seed(seed, z_dim), dtype=np.float32).reshape(1, z_dim))


@pytest.mark.parametrize("name", ["v1", "pro"])
def test_plain_request_equals_the_generator_call(nets, name):
    G = nets[name]
    info = describe(G, name)
    request = RenderRequest(latent=Latent(x=3, class_idx=2), truncation=Truncation(psi=0.7))
    out = render_request(G, request, info)
    assert out.error is None
    c = torch.eye(G.c_dim)[[2]]
    expect = to_numpy_rgb(G(_z(3, G.z_dim), c, truncation_psi=0.7, noise_mode="const"))
    assert np.array_equal(out.image, expect)


@pytest.mark.parametrize("name", ["v1", "pro"])
def test_every_applicable_stage_renders(nets, name):
    G = nets[name]
    info = describe(G, name)
    layer = info.layers[2].name
    requests = {
        "mix": RenderRequest(latent=Latent(x=1), mix=StyleMix(seed=4, ws=(0, 1))),
        "random-noise": RenderRequest(noise=Noise(mode="random", seed=3)),
        "layer": RenderRequest(layer=LayerView(layer=layer, channel=1)),
        "fft": RenderRequest(layer=LayerView(layer=layer), fft=FFTView(enabled=True)),
    }
    for label, request in requests.items():
        out = render_request(G, request, info)
        assert out.error is None and out.stats.layer_error is None, (label, out.error)
        assert out.image.shape[:2] == ((8, 8) if label not in ("layer", "fft") else out.image.shape[:2])
    plain = render_request(G, RenderRequest(latent=Latent(x=1)), info).image
    mixed = render_request(G, requests["mix"], info).image
    # ProGAN has no W: nothing to mix (w_space False), the image stays; v1 takes two layers' styles from seed 4.
    assert np.array_equal(plain, mixed) == (name == "pro")
    assert info.capabilities.w_space == (name == "v1")
