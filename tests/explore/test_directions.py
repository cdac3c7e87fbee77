"""Semantic directions: PCA of W, user directions, direction files, and the CLI (`directions`, `render --direction`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan3.cli.main import main
from stylegan3.errors import SG3Error
from stylegan3.explore.directions import (
    DirectionMove,
    Directions,
    apply_moves,
    load_directions,
    network_fingerprint,
    parse_direction_spec,
    pca_directions,
    save_directions,
    seed_set_direction,
    user_direction,
    ws_range,
)
from tests.support.nets import SMALL_16PX, save_tiny, tiny_net


class _LinearMapping(torch.nn.Module):
    """w = z @ (diag(scales) Q^T) + offset: W is Gaussian with known axes Q and known deviations `scales`."""

    def __init__(self, q: np.ndarray, scales: np.ndarray, offset: np.ndarray, num_ws: int) -> None:
        super().__init__()
        self.register_buffer("a", torch.from_numpy((np.diag(scales) @ q.T).astype(np.float32)))
        self.register_buffer("b", torch.from_numpy(offset.astype(np.float32)))
        self.num_ws = num_ws

    def forward(self, z, c, truncation_psi=1.0, truncation_cutoff=None):
        return (z @ self.a + self.b)[:, None].repeat(1, self.num_ws, 1)


class _KnownW(torch.nn.Module):
    def __init__(self, dim: int = 6) -> None:
        super().__init__()
        rng = np.random.RandomState(1)
        self.q, _ = np.linalg.qr(rng.randn(dim, dim))
        self.scales = np.array([4.0, 2.5, 1.5, 1.0, 0.5, 0.2][:dim])
        self.offset = rng.randn(dim)
        self.z_dim = self.w_dim = dim
        self.c_dim, self.num_ws, self.img_resolution = 0, 5, 8
        self.mapping = _LinearMapping(self.q, self.scales, self.offset, self.num_ws)


def test_pca_recovers_known_axes_and_deviations():
    G = _KnownW()
    seen = []
    d = pca_directions(G, samples=20000, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (20000, 20000)
    assert d.vectors.shape == (6, 6) and d.kind == "pca" and d.samples == 20000
    np.testing.assert_allclose(d.sigmas, G.scales, rtol=0.03)
    alignment = np.abs(np.sum(d.vectors * G.q.T, axis=1))  # |cos| between component i and the true axis i
    assert alignment.min() > 0.99
    np.testing.assert_allclose(d.mean, G.offset, atol=0.08)


def test_pca_of_a_real_net_is_orthonormal_with_non_increasing_variance():
    G = tiny_net("sg3", **SMALL_16PX)
    d = pca_directions(G, samples=3000)
    gram = d.vectors.astype(np.float64) @ d.vectors.T.astype(np.float64)
    assert np.abs(gram - np.eye(len(d))).max() < 1e-5
    assert np.all(np.diff(d.sigmas) <= 1e-7) and d.sigmas[0] > d.sigmas[-1] > 0
    # Each sigma is the deviation of the sampled w along its component.
    from stylegan3.explore.directions import sample_w

    w = sample_w(G, 3000)
    along = (w - w.mean(axis=0)) @ d.vectors.T.astype(np.float64)
    np.testing.assert_allclose(along.std(axis=0, ddof=1), d.sigmas, rtol=1e-4)
    # Reruns give identical components (signs fixed), and fewer components keep the leading ones.
    again = pca_directions(G, samples=3000, components=3)
    np.testing.assert_array_equal(again.vectors, d.vectors[:3])


def test_ws_ranges():
    assert ws_range("coarse", 18) == (0, 1, 2, 3)
    assert ws_range("middle", 18) == (4, 5, 6, 7)
    assert ws_range("fine", 18) == tuple(range(8, 18))
    assert ws_range("all", 16) == tuple(range(16))
    assert ws_range("coarse", 16) + ws_range("middle", 16) + ws_range("fine", 16) == tuple(range(16))
    assert ws_range("0-2,7", 16) == (0, 1, 2, 7)
    for bad in ("0-99", "x", "5-2"):
        with pytest.raises(SG3Error, match="ws range"):
            ws_range(bad, 16)


def test_moves_add_sigma_times_vector_on_the_chosen_ws_only():
    d = Directions(vectors=np.eye(4)[:2], sigmas=[2.0, 0.5], mean=np.zeros(4))
    ws = torch.zeros([1, 3, 4])
    out = apply_moves(ws, d, [DirectionMove(0, 1.5, (0, 2)), DirectionMove(1, -2.0)])
    expected = np.zeros([3, 4])
    expected[[0, 2], 0] = 3.0
    expected[:, 1] = -1.0
    np.testing.assert_array_equal(out[0].numpy(), expected)
    assert ws.abs().max() == 0  # input untouched
    with pytest.raises(SG3Error, match="out of range"):
        apply_moves(ws, d, [DirectionMove(5, 1.0)])


def test_user_directions_walk_from_a_to_b():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([4.0, 6.0, 3.0])
    d = user_direction(a, b)
    assert d.sigmas[0] == pytest.approx(5.0) and d.kind == "user"
    ws = torch.from_numpy(a).float()[None, None].repeat(1, 2, 1)
    np.testing.assert_allclose(apply_moves(ws, d, [DirectionMove(0, 1.0)])[0, 1].numpy(), b, atol=1e-5)
    with pytest.raises(SG3Error, match="same latent"):
        user_direction(a, a)
    G = tiny_net("sg3", **SMALL_16PX)
    from stylegan3.explore.interpolation import seed_ws

    s = seed_set_direction(G, [0, 1], [2, 3])
    mean_a = seed_ws(G, [0, 1])[:, 0].double().mean(0).numpy()
    mean_b = seed_ws(G, [2, 3])[:, 0].double().mean(0).numpy()
    np.testing.assert_allclose(s.mean + s.sigmas[0] * s.vectors[0], mean_b, atol=1e-5)
    np.testing.assert_allclose(s.mean, mean_a, atol=1e-6)
    assert "0,1" in s.source and s.network == network_fingerprint(G)


def test_direction_files_round_trip_and_reject_bad_files(tmp_path):
    G = tiny_net("sg3", **SMALL_16PX)
    d = pca_directions(G, samples=500)
    path = save_directions(tmp_path / "d.npz", d)
    back = load_directions(path)
    np.testing.assert_array_equal(back.vectors, d.vectors)
    np.testing.assert_array_equal(back.sigmas, d.sigmas)
    assert (back.kind, back.network, back.source, back.labels) == (d.kind, d.network, d.source, d.labels)
    assert not list(tmp_path.glob(".*"))  # no partial file left

    def fails(name: str, match: str, **arrays):
        bad = tmp_path / name
        if arrays:
            np.savez(bad, **arrays)
        with pytest.raises(SG3Error, match=match) as info:
            load_directions(bad)
        assert "\n" not in str(info.value)

    (tmp_path / "text.npz").write_text("hello")
    fails("text.npz", "not a readable direction file")
    fails("missing.npz", "no such direction file")
    fails("nometa.npz", "missing meta", vectors=np.eye(2), sigmas=np.ones(2), mean=np.zeros(2))
    meta = np.array(json.dumps({"format": "sg3-explorer directions", "version": 1}))
    fails("nan.npz", "finite", vectors=np.full([2, 2], np.nan), sigmas=np.ones(2), mean=np.zeros(2), meta=meta)
    fails("shape.npz", "do not match", vectors=np.eye(2), sigmas=np.ones(3), mean=np.zeros(2), meta=meta)
    fails("obj.npz", "not a readable", vectors=np.array([object()]), sigmas=np.ones(1), mean=np.zeros(2), meta=meta)
    newer = np.array(json.dumps({"format": "sg3-explorer directions", "version": 99}))
    fails("newer.npz", "newer", vectors=np.eye(2), sigmas=np.ones(2), mean=np.zeros(2), meta=newer)
    fails("other.npz", "no sg3-explorer metadata", vectors=np.eye(2), sigmas=np.ones(2), mean=np.zeros(2),
          meta=np.array("{}"))


def test_parse_direction_spec():
    assert parse_direction_spec("dirs.npz:3=2.5") == ("dirs.npz", 3, 2.5, "all")
    assert parse_direction_spec("C:/x/d.npz:0=-1@coarse") == ("C:/x/d.npz", 0, -1.0, "coarse")
    for bad in ("dirs.npz", "dirs.npz:3", "dirs.npz:a=1", ":3=1", "d.npz:-1=2", "d.npz:1=nan"):
        with pytest.raises(SG3Error, match="--direction"):
            parse_direction_spec(bad)


def test_cli_directions_and_render_with_directions(tmp_path, capsys):
    net = str(save_tiny(tmp_path / "tiny.safetensors", "sg3", **SMALL_16PX))
    out = tmp_path / "dirs.npz"
    assert main(["directions", "--network", net, "--samples", "800", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    d = load_directions(out)
    assert len(d) == 8 and d.samples == 800
    assert main(["render", "--network", net, "--seeds", "1", "--outdir", str(tmp_path / "plain")]) == 0
    assert main(["render", "--network", net, "--seeds", "1", "--outdir", str(tmp_path / "moved"),
                 "--direction", f"{out}:0=3", "--direction", f"{out}:2=-2@fine"]) == 0
    plain = np.asarray(Image.open(tmp_path / "plain" / "seed0001.png")).astype(int)
    moved = np.asarray(Image.open(tmp_path / "moved" / "seed0001-dirs0+3-dirs2-2@fine.png")).astype(int)
    # The CLI's image is the library's: map seed 1, add 3 sigma of PC0 everywhere and -2 sigma of PC2 on the fine ws.
    from stylegan3.explore.interpolation import seed_ws
    from stylegan3.render.images import to_numpy_rgb

    G = tiny_net("sg3", **SMALL_16PX)
    ws = apply_moves(seed_ws(G, [1]), d, [DirectionMove(0, 3.0), DirectionMove(2, -2.0, ws_range("fine", G.num_ws))])
    with torch.no_grad():
        expected = to_numpy_rgb(G.synthesis(ws, noise_mode="const")).astype(int)
    assert np.abs(moved - expected).max() <= 1
    assert np.abs(moved - plain).mean() > 2


@pytest.mark.parametrize("spec, message", [
    ("{out}:99=1", "direction 99 out of range"),
    ("{tmp}/none.npz:0=1", "no such direction file"),
    ("{out}:0", "bad --direction"),
    ("{out}:0=1@50-60", "ws range"),
    ("{bad}:0=1", "not a readable direction file"),
])  # fmt: skip
def test_cli_render_direction_errors_are_one_line(tmp_path, capsys, spec, message):
    net = str(save_tiny(tmp_path / "tiny.safetensors", "sg3", **SMALL_16PX))
    out = save_directions(tmp_path / "d.npz", pca_directions(tiny_net("sg3", **SMALL_16PX), samples=100))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 garbage")
    arg = spec.format(out=out, tmp=tmp_path, bad=bad)
    assert main(["render", "--network", net, "--seeds", "0", "--outdir", str(tmp_path / "o"), "--direction", arg]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_cli_directions_for_another_w_dim_is_refused(tmp_path, capsys):
    net = str(save_tiny(tmp_path / "tiny.safetensors", "sg3", **SMALL_16PX))
    other = save_directions(tmp_path / "o.npz", Directions(vectors=np.eye(3), sigmas=np.ones(3), mean=np.zeros(3)))
    assert main(["render", "--network", net, "--outdir", str(tmp_path / "o"), "--direction", f"{other}:0=1"]) == 1
    assert "3-dimensional" in capsys.readouterr().err
