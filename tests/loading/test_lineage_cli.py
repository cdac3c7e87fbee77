"""`info`, `convert` and `render` on StyleGAN (v1) and ProGAN TensorFlow pickles."""

from __future__ import annotations

import pytest

from stylegan3.cli.main import main
from tests.support.tf_lineage_fakes import PROGAN_CONFIGS, V1_CONFIGS, progan_snapshot, v1_snapshot


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    (folder / "v1.pkl").write_bytes(v1_snapshot(V1_CONFIGS["fused"]))
    (folder / "pro.pkl").write_bytes(progan_snapshot(PROGAN_CONFIGS["dnnlib-fused"]))
    return folder


def test_info_shows_tf_names_next_to_ours(files, capsys):
    assert main(["info", str(files / "v1.pkl")]) == 0
    out = capsys.readouterr().out
    assert "kind        SG1" in out and "num_ws 6" in out
    assert "b8.conv0" in out and "TF 8x8/Conv0_up" in out and "TF ToRGB_lod0" in out
    assert "G_style / G_mapping / G_synthesis" in out and "cutoff 8 layers" in out
    assert "synthesis.b8.conv0.style.weight" in out and "synthesis/8x8/Conv0_up/StyleMod/weight (transposed)" in out
    assert main(["info", str(files / "pro.pkl")]) == 0
    out = capsys.readouterr().out
    assert "kind        ProGAN" in out and "written by  NVlabs/stylegan" in out
    assert "synthesis.b8_conv0.conv.weight" in out and "8x8/Conv0_up/weight (HWIO->OIHW)" in out


def test_catalog_listing_marks_the_drive_entries(capsys):
    assert main(["info", "--catalog"]) == 0
    out = capsys.readouterr().out
    assert "stylegan-ffhq-1024x1024           SG1    1024x1024  *" in out
    assert "karras2018iclr-celebahq-1024x1024 ProGAN 1024x1024  *" in out
    assert "* Google Drive address from the official README" in out


@pytest.mark.parametrize("name", ["v1", "pro"])
def test_convert_and_render(files, tmp_path, name, capsys):
    out = tmp_path / f"{name}.safetensors"
    assert main(["convert", str(files / f"{name}.pkl"), str(out), "--key", "G"]) == 0
    assert ("SG1" if name == "v1" else "ProGAN") in capsys.readouterr().out
    assert main(["render", "--network", str(out), "--seeds", "0-1", "--psi", "0.7", "--outdir", str(tmp_path / "png"),
                 "--device", "cpu"]) == 0
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["seed0000-psi0.7.png", "seed0001-psi0.7.png"]
