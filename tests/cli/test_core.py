"""`render` and `info` end to end through the real console entry point (in-process and as a subprocess)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from stylegan3.cli.args import parse_seeds
from stylegan3.cli.main import main


def test_parse_seeds():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    assert parse_seeds("5") == [5]
    with pytest.raises(Exception, match="runs backwards"):
        parse_seeds("3-1")
    with pytest.raises(Exception, match="too long"):
        parse_seeds("0-9999999999")  # would exhaust memory inside argparse, before any error handling


@pytest.mark.fixtures
def test_render_writes_one_png_per_seed_matching_reference(fixtures_dir, fixture_cases, tmp_path):
    case = next(
        c for c in fixture_cases
        if c["pickle"] == "sg3t.pkl" and c["psi"] == 0.5 and c["translate"] == [0.25, -0.1] and c["rotate"] == 0.3
    )  # fmt: skip
    rc = main([
        "render", "--network", str(fixtures_dir / "sg3t.pkl"), "--seeds", f"{case['seed']},1", "--psi", "0.5",
        "--translate", "0.25,-0.1", "--rotate", "0.3", "--outdir", str(tmp_path),
    ])  # fmt: skip
    assert rc == 0
    names = ["seed0000-psi0.5-t0.25,-0.1-r0.3.png", "seed0001-psi0.5-t0.25,-0.1-r0.3.png"]  # the options in the name
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    png = np.asarray(Image.open(tmp_path / names[0]))
    ref = np.load(fixtures_dir / case["output"])[0].transpose(1, 2, 0)
    expected = np.clip(ref * 127.5 + 128, 0, 255).astype(np.uint8)
    assert png.shape == (64, 64, 3)
    assert np.abs(png.astype(int) - expected.astype(int)).max() <= 1


def test_render_demo_network_by_default(tmp_path):
    assert main(["render", "--seeds", "3", "--outdir", str(tmp_path)]) == 0
    img = np.asarray(Image.open(tmp_path / "seed0003.png"))
    assert img.shape == (256, 256, 3) and img.std() > 1


def test_class_label_on_unconditional_net_is_an_error(tmp_path, capsys):
    assert main(["render", "--seeds", "0", "--class", "5", "--outdir", str(tmp_path)]) == 1
    assert "unconditional" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_info_lists_layers(capsys):
    assert main(["info", "demo"]) == 0
    out = capsys.readouterr().out
    assert "SG3-T" in out and "untrained" in out
    assert "L14_256_3" in out and "L0_84_128" in out


def test_bad_network_is_one_line_error_exit_1(tmp_path):
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a pickle at all")
    proc = subprocess.run(
        [sys.executable, "-m", "stylegan3", "render", "--network", str(bad), "--outdir", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.pkl" in lines[0]
    assert "Traceback" not in proc.stderr
