"""Projection of an image into W / W+: target loading, the offline loss, the optimizer loop, and `project`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan3.errors import SG3Error
from stylegan3.explore.projection import (
    OfflineLoss,
    load_projection,
    load_target,
    make_loss,
    perceptual_status,
    project,
    psnr,
)
from tests.support.nets import SMALL_16PX, tiny_net


def contrast_net() -> torch.nn.Module:
    """The tiny 16 px SG3 with its output layer scaled up: random weights alone draw an almost flat image,
    which any start point would match; this one has structure (std ~0.4) inside [-1, 1]."""
    G = tiny_net("sg3", **SMALL_16PX)
    last = getattr(G.synthesis, G.synthesis.layer_names[-1])
    with torch.no_grad():
        last.weight.mul_(6)
    return G


def test_target_is_centre_cropped_resized_and_in_range(tmp_path):
    arr = np.zeros([40, 80, 3], np.uint8)
    arr[:, :20] = (255, 0, 0)  # cut off by the centre crop
    arr[:, 60:] = (0, 0, 255)
    arr[:, 20:60] = (0, 255, 0)
    Image.fromarray(arr).save(tmp_path / "wide.png")
    t = load_target(tmp_path / "wide.png", 16)
    assert t.shape == (1, 3, 16, 16) and t.dtype == torch.float32
    np.testing.assert_allclose(t[0, :, 8, 8].numpy(), [-1, 1, -1], atol=1e-6)
    np.testing.assert_allclose(t[0, 0].numpy(), -1, atol=1e-6)  # no red left


def test_grey_alpha_sixteen_bit_and_one_channel_targets(tmp_path):
    Image.fromarray(np.full([8, 8], 64, np.uint8), "L").save(tmp_path / "grey.png")
    t = load_target(tmp_path / "grey.png", 4)
    assert t.shape == (1, 3, 4, 4)
    np.testing.assert_allclose(t.numpy(), 64 / 127.5 - 1, atol=1e-6)
    rgba = np.zeros([8, 8, 4], np.uint8)
    rgba[:4] = (0, 0, 0, 255)  # top half opaque black, bottom half transparent -> white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    t = load_target(tmp_path / "alpha.png", 8)
    np.testing.assert_allclose(t[0, :, :4].numpy(), -1, atol=1e-6)
    np.testing.assert_allclose(t[0, :, 4:].numpy(), 1, atol=1e-6)
    Image.fromarray(np.array([[0, 65535], [32896, 0]], np.uint16)).save(tmp_path / "deep.png")
    t = load_target(tmp_path / "deep.png", 2)
    np.testing.assert_allclose(t[0, 0].numpy(), [[-1, 1], [128 / 127.5 - 1, -1]], atol=1e-6)
    Image.fromarray(np.full([6, 6, 3], (255, 255, 255), np.uint8)).save(tmp_path / "white.jpg")
    t = load_target(tmp_path / "white.jpg", 6, channels=1)
    assert t.shape == (1, 1, 6, 6) and float(t.min()) > 0.98


def test_bad_images_are_one_line_errors(tmp_path, monkeypatch):
    (tmp_path / "notes.png").write_text("this is text, not a picture")
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros([32, 32, 3], np.uint8)).save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:60])
    # A valid PNG header that claims 50000 x 50000 pixels (the decompression bomb guard must fire first).
    import struct
    import zlib

    def png_chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 50000, 50000, 8, 2, 0, 0, 0))
    body = png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + header + body)
    cases = [("notes.png", "not an image file"), ("cut.png", "corrupt"), ("bomb.png", "too large"),
             ("missing.png", "no such image file")]
    for name, message in cases:
        with pytest.raises(SG3Error, match=message) as info:
            load_target(tmp_path / name, 16)
        assert "\n" not in str(info.value) and name in str(info.value)
    import stylegan3.explore.projection as projection

    monkeypatch.setattr(projection, "MAX_IMAGE_BYTES", 10)
    with pytest.raises(SG3Error, match="too large"):
        load_target(good, 16)


def test_offline_loss_sees_pixels_edges_and_coarse_layout():
    loss = OfflineLoss()
    a = torch.rand([1, 3, 32, 32]) * 2 - 1
    assert float(loss(a, a)) == 0.0
    shifted = torch.roll(a, 1, dims=-1)
    assert float(loss(a, shifted)) > float(loss(a, a + 0.01))
    # The pyramid counts a uniform offset at every scale: four levels (32, 16, 8) x the pixel term.
    assert float(loss(a, a + 0.1)) == pytest.approx(3 * 0.01, rel=1e-4)
    assert float(OfflineLoss(grad_weight=0.0)(a, shifted)) < float(loss(a, shifted))


def test_loss_choice_says_which_is_in_use():
    loss, note = make_loss("offline")
    assert loss.name == "offline" and "no download" in loss.description and note == ""
    importable, cached, _ = perceptual_status()
    loss, note = make_loss("auto")
    if not (importable and cached):
        assert loss.name == "offline" and "perceptual loss not used" in note and "\n" not in note
    if not importable:
        with pytest.raises(SG3Error, match="perceptual loss unavailable") as info:
            make_loss("lpips")
        assert "\n" not in str(info.value)
    with pytest.raises(SG3Error, match="unknown loss"):
        make_loss("vgg")


def test_the_loop_yields_every_step_and_stops_when_asked():
    G = contrast_net()
    target = torch.zeros([1, 3, 16, 16])
    it = project(G, target, steps=40, space="w", init_samples=50)
    first = [next(it) for _ in range(3)]
    it.close()  # cancelling: the caller stops iterating, nothing else runs
    assert [s.step for s in first] == [0, 1, 2] and first[0].steps == 40 and not first[-1].done
    assert first[0].ws.shape == (1, G.num_ws, G.w_dim) and first[0].image.shape == (1, 3, 16, 16)
    # W: one w for every layer.
    assert torch.equal(first[2].ws[0, 0], first[2].ws[0, -1])
    assert first[2].loss < first[0].loss
    for kwargs, message in [(dict(space="z"), "latent space"), (dict(steps=0), "steps"),
                            (dict(lr=-1.0), "learning rate")]:
        with pytest.raises(SG3Error, match=message):
            next(project(G, target, **kwargs))
    with pytest.raises(SG3Error, match="target of shape"):
        next(project(G, torch.zeros([1, 3, 8, 8])))


@pytest.mark.slow
def test_w_plus_recovers_an_image_the_net_made_to_30_db():
    """The proof for the offline loss: a target drawn from a known latent comes back to >= 30 dB in W+."""
    from stylegan3.explore.interpolation import seed_ws

    G = contrast_net()
    ws_true = seed_ws(G, [9])
    with torch.no_grad():
        target = G.synthesis(ws_true, noise_mode="const", force_fp32=True)
    start = None
    for step in project(G, target, steps=80, space="w+", init_samples=500):
        start = start if start is not None else psnr(step.image, target)
    final = psnr(step.image, target)
    assert step.done and final >= 30.0, f"PSNR {final:.1f} dB (start {start:.1f} dB)"
    assert final > start + 10
    assert not torch.equal(step.ws[0, 0], step.ws[0, -1])  # W+: the ws differ per layer


def test_cli_project_writes_latent_images_and_video(tmp_path, capsys):
    pytest.importorskip("imageio_ffmpeg")
    from stylegan3.cli.main import main
    from stylegan3.loading import save_native

    net = str(save_native(contrast_net(), tmp_path / "net.safetensors"))
    Image.fromarray((np.random.RandomState(0).rand(30, 40, 3) * 255).astype(np.uint8)).save(tmp_path / "me.jpg")
    out = tmp_path / "out"
    assert main(["project", "--network", net, "--target", str(tmp_path / "me.jpg"), "--steps", "4",
                 "--space", "w", "--loss", "offline", "--outdir", str(out), "--video"]) == 0
    printed = capsys.readouterr().out
    assert "loss: offline" in printed and "PSNR" in printed
    assert sorted(p.name for p in out.iterdir()) == ["projected.png", "projected_w.npz", "projection.mp4",
                                                    "target.png"]
    ws, meta = load_projection(out / "projected_w.npz")
    assert ws.shape == (1, 6, 8) and meta["space"] == "w" and meta["loss_kind"] == "offline"
    assert meta["steps"] == 4 and np.isfinite(meta["psnr_db"])
    assert np.asarray(Image.open(out / "projected.png")).shape == (16, 16, 3)
    # The saved latent draws the saved image.
    G = contrast_net()
    from stylegan3.render.images import to_numpy_rgb

    with torch.no_grad():
        again = to_numpy_rgb(G.synthesis(torch.from_numpy(ws), noise_mode="const", force_fp32=True))
    assert np.abs(again.astype(int) - np.asarray(Image.open(out / "projected.png")).astype(int)).max() <= 1
    import imageio.v2 as imageio

    with imageio.get_reader(str(out / "projection.mp4")) as reader:
        frames = [np.asarray(f) for f in reader]
    assert len(frames) == 5 and frames[0].shape == (16, 32, 3)  # target | reconstruction, steps + 1 frames


def test_cli_project_errors(tmp_path, capsys):
    from stylegan3.cli.main import main
    from stylegan3.loading import save_native

    net = str(save_native(contrast_net(), tmp_path / "net.safetensors"))
    (tmp_path / "x.png").write_bytes(b"GIF89a broken")
    assert main(["project", "--network", net, "--target", str(tmp_path / "x.png"), "--outdir",
                 str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "x.png" in err and "\n" not in err
    assert not (tmp_path / "o").exists()
    assert main(["project", "--network", net, "--target", str(tmp_path / "x.png"), "--steps", "0",
                 "--outdir", str(tmp_path / "o")]) == 1
    assert "--steps" in capsys.readouterr().err


def test_perceptual_loss_downloads_into_our_cache_and_fails_clearly(tmp_path, monkeypatch):
    """LPIPS itself cannot run here (no torchvision beside this torch, no internet): a stand-in `lpips` module
    checks what our side does: weights fetched through torch.hub into our cache folder, the hub folder put
    back afterwards, LPIPS + pixel MSE as the value, and a failed download as one clear line."""
    import sys
    import types
    import urllib.error

    import torch.hub

    monkeypatch.setenv("SG3_EXPLORER_CACHE", str(tmp_path / "cache"))
    seen = {}

    class FakeLPIPS(torch.nn.Module):
        fail = False

        def __init__(self, net="alex", verbose=True):
            super().__init__()
            seen["hub"], seen["net"] = torch.hub.get_dir(), net
            if FakeLPIPS.fail:
                raise urllib.error.URLError("no route to host")

        def forward(self, a, b):
            return (a - b).abs().mean(dim=[1, 2, 3], keepdim=True)

    monkeypatch.setitem(sys.modules, "lpips", types.SimpleNamespace(LPIPS=FakeLPIPS))
    before = torch.hub.get_dir()
    importable, cached, reason = perceptual_status()
    assert importable and not cached and "not downloaded yet" in reason
    loss, note = make_loss("auto")
    assert loss.name == "offline" and "not downloaded yet" in note  # auto never starts a download
    loss, note = make_loss("lpips")
    assert loss.name == "lpips" and "LPIPS" in loss.description and note == ""
    assert seen == {"hub": str(tmp_path / "cache" / "torch-hub"), "net": "vgg"}
    assert torch.hub.get_dir() == before
    a, b = torch.zeros([1, 3, 8, 8]), torch.full([1, 3, 8, 8], 0.5)
    assert float(loss(a, b)) == pytest.approx(0.5 + 0.25)
    (tmp_path / "cache" / "torch-hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "cache" / "torch-hub" / "checkpoints" / "vgg16-0000.pth").write_bytes(b"x")
    assert make_loss("auto")[0].name == "lpips"  # once the weights are there, auto uses them
    FakeLPIPS.fail = True
    with pytest.raises(SG3Error, match="could not get its weights") as info:
        make_loss("lpips")
    assert "\n" not in str(info.value) and "offline" in str(info.value)
    assert torch.hub.get_dir() == before
