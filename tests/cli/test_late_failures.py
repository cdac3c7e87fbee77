"""Failures found before any work, on a line of their own (issue: late or leaky failures).

`video --out v.gif` started a bar, then printed imageio's "FFMPEG can not handle the given uri"; an unknown
`spectra --layer` was printed after a progress bar that had just started; `spectra --connect` redrew `0/4`
about 17 times while the server worked."""

from __future__ import annotations

import pytest

from stylegan3.cli.main import main
from tests.support.nets import save_tiny
from tests.support.service import running_server


def test_video_refuses_an_unknown_format_before_loading(monkeypatch, tmp_path, capsys):
    import stylegan3.cli.cmd_video as cmd_video

    monkeypatch.setattr(cmd_video, "load_networks", lambda *a, **k: pytest.fail("loaded before checking --out"))
    out = tmp_path / "v.avi"
    assert main(["video", "--out", str(out)]) == 1
    assert capsys.readouterr().err == f"error: {out}: videos are written as .mp4 (H.264) or .gif, not .avi\n"
    assert main(["video", "--session", "no-such.json", "--out", str(tmp_path / "v")]) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'v'}: videos are written as .mp4 (H.264) or .gif, not a file without suffix\n"
    )
    assert main(["video", "--out", str(tmp_path / "missing" / "v.gif")]) == 1
    assert capsys.readouterr().err == f"error: output folder {tmp_path / 'missing'} does not exist\n"


def test_video_writes_a_gif(tmp_path, capsys):
    from PIL import Image

    net = save_tiny(tmp_path / "tiny.safetensors", kind="SG3-T", res=16)
    out = tmp_path / "v.gif"
    argv = [
        "video",
        "--network",
        str(net),
        "--seeds",
        "0-1",
        "--frames-per-seed",
        "3",
        "--fps",
        "10",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out == f"wrote {out}: 4 frames, 0.4 s, 1 pane(s)\n"
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4 and gif.info["duration"] == 100


def test_unknown_layer_is_one_line_with_no_bar(tmp_path, capsys):
    net = save_tiny(tmp_path / "tiny.safetensors", kind="SG3-T", res=16)
    assert (
        main(["spectra", "--network", str(net), "--layer", "nope", "--samples", "2", "--out", str(tmp_path / "s.png")])
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("error: no layer 'nope'; this network has: output, input, L0_")
    assert err.count("\n") == 1 and "\r" not in err and "%|" not in err


def test_spectra_connect_draws_each_count_once(tmp_path, capsys):
    net = save_tiny(tmp_path / "tiny.safetensors", kind="SG3-T", res=16)
    with running_server([str(tmp_path)]) as server:
        argv = [
            "spectra",
            "--connect",
            server.address.removeprefix("tcp://"),
            "--network",
            str(net),
            "--samples",
            "4",
            "--out",
            str(tmp_path / "s.png"),
        ]
        assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("0/4") <= 1 and err.count("1/4") <= 1
