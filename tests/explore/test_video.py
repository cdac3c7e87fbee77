"""Latent paths (stylegan3.explore.interpolation), video frames and mp4 writing (stylegan3.explore.video)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylegan3.errors import SG3Error
from stylegan3.explore.interpolation import (
    interpolate_at,
    interpolate_keys,
    num_frames,
    parse_grid,
    parse_seeds,
    parse_transform_path,
    path_ws,
    seed_ws,
    transform_path,
)
from stylegan3.explore.video import VideoSpec, iter_video_frames, tile_grid, video_frame_count, write_video
from stylegan3.networks.latents import z_from_seed
from stylegan3.render.images import to_rgb_uint8
from tests.support.toy_generators import ToyGenerator

# --- latent paths ----------------------------------------------------------------------------------------


def test_parse_seeds_and_grid():
    assert parse_seeds("0-3,7, 10-11") == [0, 1, 2, 3, 7, 10, 11]
    assert parse_seeds("42") == [42]
    for bad in ("", "a", "5-2", "1,,2", "-3", "0-99999999"):
        with pytest.raises(SG3Error):
            parse_seeds(bad)
    assert parse_grid("3x2") == (3, 2)
    for bad in ("3", "0x2", "axb", "100x100"):
        with pytest.raises(SG3Error):
            parse_grid(bad)


def test_interpolation_hits_every_key_and_counts_frames():
    keys = torch.tensor([[0.0, 1.0], [2.0, -1.0], [5.0, 0.0], [1.0, 3.0]])
    for loop in (False, True):
        for kind in ("cubic", "linear"):
            path = interpolate_keys(keys, 4, loop=loop, kind=kind)
            assert path.shape == (num_frames(4, 4, loop), 2) == ((16 if loop else 13), 2)
            assert torch.equal(path[::4], keys)
    lin = interpolate_keys(keys, 4, kind="linear")
    torch.testing.assert_close(lin[2], (keys[0] + keys[1]) / 2)
    # numpy in -> numpy out, dtype kept; a single key holds still
    arr = interpolate_keys(keys.numpy(), 3, loop=True)
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float32
    assert np.array_equal(interpolate_keys(np.ones([1, 5]), 7, loop=True), np.ones([7, 5]))
    with pytest.raises(SG3Error):
        interpolate_keys(keys, 4, kind="quadratic")


def test_path_at_continuous_times_wraps_or_clamps():
    keys = torch.tensor([[0.0], [4.0], [2.0]])
    torch.testing.assert_close(interpolate_at(keys, [0.5, 3.0, -0.5, 7.0], kind="linear"),
                               torch.tensor([[2.0], [2.0], [0.0], [2.0]]))  # clamped to the ends
    torch.testing.assert_close(interpolate_at(keys, [2.5, 3.0, -1.0, 4.25], loop=True, kind="linear"),
                               torch.tensor([[1.0], [0.0], [2.0], [3.5]]))  # wraps: 2 -> 0 between 2 and 3
    cubic = interpolate_at(keys, np.linspace(0, 3, 31), loop=True)
    assert torch.equal(cubic[[0, 10, 20, 30]], keys[[0, 1, 2, 0]])
    assert cubic.max() > 4.0  # a spline through a peak overshoots it a little; linear never does


def test_path_ws_is_the_interpolated_seed_ws():
    G = ToyGenerator(0.0)
    path = path_ws(G, [5, 6, 7], 4, loop=True, psi=0.8)
    assert path.shape == (12, 4, 8)
    torch.testing.assert_close(path, interpolate_keys(seed_ws(G, [5, 6, 7], psi=0.8), 4, loop=True))


def test_cubic_loop_has_no_seam():
    keys = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    path = interpolate_keys(keys, 10, loop=True)
    closed = torch.cat([path, path[:2]])  # wrap around the seam
    step = closed[1:] - closed[:-1]
    accel = (step[1:] - step[:-1]).norm(dim=1)
    # The second difference across the seam is no larger than elsewhere (a kink would stand out).
    assert accel[-1] <= accel.max() and accel[-1] < 3 * accel.median()
    # the open (linear) path has its kinks exactly at the keys
    lin = interpolate_keys(keys, 10, kind="linear")
    lin_accel = ((lin[2:] - 2 * lin[1:-1] + lin[:-2]).norm(dim=1))
    assert set(torch.nonzero(lin_accel > 1e-6).flatten().tolist()) == {9, 19, 29}


def test_seed_ws_gives_each_net_z_at_its_own_size():
    big, small = ToyGenerator(0.0, z_dim=8), ToyGenerator(0.0, z_dim=4)
    wb, ws_ = seed_ws(big, [3, 9]), seed_ws(small, [3, 9], psi=0.5)
    assert wb.shape == (2, 4, 8) and ws_.shape == (2, 4, 4)
    torch.testing.assert_close(wb[1, 2], torch.from_numpy(z_from_seed(9, 8)[0]).float())
    torch.testing.assert_close(ws_[0, 0], 0.5 * torch.from_numpy(z_from_seed(3, 4)[0]).float())


def test_transform_paths():
    circle = transform_path("circle:0.2", 4, loop=True)
    np.testing.assert_allclose(circle, [[0.2, 0, 0], [0, 0.2, 0], [-0.2, 0, 0], [0, -0.2, 0]], atol=1e-12)
    both = transform_path("pan:1,-0.5+spin:0.25", 3, loop=False)
    np.testing.assert_allclose(both[-1], [1.0, -0.5, 0.25])
    np.testing.assert_allclose(both[1], [0.5, -0.25, 0.125])
    assert parse_transform_path(" sway:0.1,0 ") == [("sway", (0.1, 0.0))]
    for bad in ("wobble:1", "circle", "pan:1", "spin:x", "circle:nan"):
        with pytest.raises(SG3Error):
            parse_transform_path(bad)


# --- frames ----------------------------------------------------------------------------------------------


def test_tile_grid_is_row_major():
    imgs = np.arange(6)[:, None, None, None] * np.ones([6, 2, 3, 1], dtype=np.int64)
    grid = tile_grid(imgs, cols=3, rows=2)
    assert grid.shape == (4, 9, 1)
    assert grid[0, 0, 0] == 0 and grid[0, 3, 0] == 1 and grid[2, 0, 0] == 3 and grid[3, 8, 0] == 5


def test_frames_show_every_net_in_sync_at_a_common_pane_size():
    a, b = ToyGenerator(1.0, res=64, z_dim=8), ToyGenerator(0.0, res=32, z_dim=4)
    spec = VideoSpec(seeds=[0, 1, 2, 3], frames_per_seed=3, grid=(2, 1), batch_size=2)
    frames = list(iter_video_frames([("a", a), ("b", b)], spec))
    assert len(frames) == video_frame_count(spec) == 4  # 2 seeds per cell, not looped: 1 * 3 + 1
    # each pane: 24 px label over a 2x1 grid of 64 px cells; height 88 padded to 96 for the encoder
    assert frames[0].shape == (96, 256, 3) and frames[0].dtype == np.uint8
    assert not frames[0][88:].any()
    # frame 0 cell 0 shows seed 0, cell 1 seed 2 (cells walk consecutive seeds); native-size pane is exact
    want = to_rgb_uint8(a.synthesis(seed_ws(a, [0, 2]))).numpy()
    np.testing.assert_array_equal(frames[0][24:88, 0:64], want[0])
    np.testing.assert_array_equal(frames[0][24:88, 64:128], want[1])
    # last frame: the keys seeds 1 and 3 (the path lands exactly on its keys)
    want_end = to_rgb_uint8(a.synthesis(seed_ws(a, [1, 3]))).numpy()
    np.testing.assert_array_equal(frames[-1][24:88, 64:128], want_end[1])
    # the 32 px net is scaled up to the same 64 px cell
    b_img = to_rgb_uint8(b.synthesis(seed_ws(b, [0]))).numpy()[0].astype(float)
    pane_b = frames[0][24:88, 128:192].astype(float)
    assert np.abs(pane_b[::2, ::2] - b_img).mean() < 25 and np.abs(pane_b - pane_b.mean()).mean() > 10
    # the label strip holds text (bright pixels on the dark strip)
    assert (frames[0][:24, :128] > 200).any()


def test_frames_reject_bad_specs():
    G = ToyGenerator(0.0)
    with pytest.raises(SG3Error, match="split evenly"):
        next(iter_video_frames([("g", G)], VideoSpec(seeds=[0, 1, 2], grid=(2, 1))))
    with pytest.raises(SG3Error, match="input transform"):
        next(iter_video_frames([("g", G)], VideoSpec(seeds=[0, 1], translate_path="circle:0.1")))
    with pytest.raises(SG3Error):
        next(iter_video_frames([], VideoSpec(seeds=[0, 1])))


# --- mp4 ------------------------------------------------------------------------------------------------


def _decode(path):
    imageio = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    with imageio.get_reader(str(path)) as reader:
        return [np.asarray(f) for f in reader]


def test_written_video_decodes_back(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    frames = [np.full([32, 48, 3], v, dtype=np.uint8) for v in (0, 128, 255)]
    out = tmp_path / "v.mp4"
    assert write_video(iter(frames), out, fps=10, total=3, progress=False) == 3
    back = _decode(out)
    assert len(back) == 3 and back[0].shape == (32, 48, 3)
    assert [int(round(f.mean())) for f in back] == pytest.approx([0, 128, 255], abs=3)
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # no partial file left behind


def test_interrupted_write_leaves_nothing(tmp_path):
    pytest.importorskip("imageio_ffmpeg")

    def frames():
        yield np.zeros([32, 32, 3], dtype=np.uint8)
        raise SG3Error("stop")

    with pytest.raises(SG3Error):
        write_video(frames(), tmp_path / "x.mp4", progress=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SG3Error, match="does not exist"):
        write_video(iter([]), tmp_path / "no" / "x.mp4", progress=False)


@pytest.fixture
def tiny_demo(monkeypatch):
    """The real demo net is 256 px (tens of seconds per frame on a CPU): stand in a tiny SG3 for it."""
    import stylegan3.loading.demo
    from tests.support.nets import SMALL_16PX, tiny_net

    monkeypatch.setattr(stylegan3.loading.demo, "demo_network", lambda *a, **k: tiny_net("sg3", **SMALL_16PX))


def test_cli_video_without_network_uses_the_demo_net(tiny_demo, tmp_path, capsys):
    from stylegan3.cli.main import main

    out = tmp_path / "demo.mp4"
    assert main(["video", "--seeds", "0-1", "--frames-per-seed", "3", "--loop", "--size", "48",
                 "--translate-path", "circle:0.05", "--device", "cpu", "--out", str(out)]) == 0
    assert "6 frames" in capsys.readouterr().out
    back = _decode(out)
    assert len(back) == 6 and back[0].shape == (80, 48, 3)  # 24 label + 48 cell = 72, padded to 80
    assert np.abs(back[0][24:72].astype(int) - back[3][24:72]).mean() > 2


def test_cli_video_side_by_side_networks_of_different_sizes(tmp_path, capsys):
    from stylegan3.cli.main import main
    from tests.support.nets import SMALL_16PX, save_tiny

    a = str(save_tiny(tmp_path / "a.safetensors", "sg3", **SMALL_16PX))
    b = str(save_tiny(tmp_path / "b.safetensors", "sg2", **SMALL_16PX))
    out = tmp_path / "ab.mp4"
    assert main(["video", "--network", a, "--network", b, "--seeds", "3,4,5,6", "--grid", "2x1",
                 "--frames-per-seed", "2", "--psi", "0.7", "--size", "32", "--out", str(out)]) == 0
    back = _decode(out)
    assert len(back) == 3 and back[0].shape == (64, 128, 3)  # two panes of 2x1 32-px cells + label, padded
    assert main(["video", "--network", a, "--network", b, "--seeds", "0-1", "--translate-path", "spin:1",
                 "--out", str(tmp_path / "x.mp4")]) == 1
    assert "b.safetensors" in capsys.readouterr().err  # SG2 has no input transform: named in one line
    assert not (tmp_path / "x.mp4").exists()


def test_cli_video_errors(tiny_demo, tmp_path, capsys):
    from stylegan3.cli.main import main

    assert main(["video", "--seeds", "0-2", "--grid", "2x1", "--out", str(tmp_path / "a.mp4")]) == 1
    assert "split evenly" in capsys.readouterr().err
    assert main(["video", "--translate-path", "zoom:2", "--out", str(tmp_path / "a.mp4")]) == 1
    assert "transform path" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.fixtures
@pytest.mark.slow
def test_cli_video_compares_fixture_networks(fixtures_dir, tmp_path):
    from stylegan3.cli.main import main

    out = tmp_path / "cmp.mp4"
    args = ["video", "--network", str(fixtures_dir / "sg2.pkl"), "--network", str(fixtures_dir / "sg3t.pkl"),
            "--network", str(fixtures_dir / "sg3r.pkl"), "--seeds", "0-1", "--frames-per-seed", "1",
            "--device", "cpu", "--out", str(out)]
    assert main(args) == 0
    back = _decode(out)
    assert len(back) == 2 and back[0].shape == (96, 3 * 64, 3)  # three 64 px panes under 24 px labels


def test_missing_ffmpeg_is_a_one_line_error(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # makes `import imageio_ffmpeg` fail
    with pytest.raises(SG3Error, match=r"pip install 'sg3-explorer\[video\]'"):
        write_video(iter([np.zeros([16, 16, 3], dtype=np.uint8)]), tmp_path / "v.mp4", progress=False)
    assert not any(tmp_path.iterdir())
