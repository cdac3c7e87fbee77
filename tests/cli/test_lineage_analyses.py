"""`sticking` and `video` on the whole lineage (ProGAN and StyleGAN v1 TF pickles next to StyleGAN2 / StyleGAN3-R
native files): a score per network, one pane per network, and a translate path refused in one line naming the
networks without an input transform."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stylegan3.cli.main import main
from tests.support.tf_lineage_fakes import write_lineage_nets


@pytest.fixture(scope="module")
def lineage(tmp_path_factory) -> list[str]:
    return [str(p) for p in write_lineage_nets(tmp_path_factory.mktemp("lineage"))]


def _networks(paths: list[str]) -> list[str]:
    return [arg for p in paths for arg in ("--network", p)]


def test_sticking_prints_a_score_per_network(lineage, tmp_path, capsys):
    fig = tmp_path / "sticking.png"
    assert main(["sticking", *_networks(lineage), "--samples", "3", "--psi", "0.7", "--trace-frames", "3",
                 "--device", "cpu", "--out", str(fig)]) == 0
    out = capsys.readouterr().out
    scores = re.findall(r"\((ProGAN|SG1|SG2|SG3-R) 32px\): sticking ([0-9.]+)", out)
    assert [kind for kind, _ in scores] == ["ProGAN", "SG1", "SG2", "SG3-R"], out
    assert all(0.0 <= float(score) <= 1.0 for _, score in scores)
    assert out.count("trace verticality") == 4 and fig.is_file()


def test_video_has_a_pane_per_network(lineage, tmp_path, capsys):
    out = tmp_path / "lineage.mp4"
    assert main(["video", *_networks(lineage), "--seeds", "0-1", "--frames-per-seed", "2", "--psi", "0.7",
                 "--device", "cpu", "--out", str(out)]) == 0
    assert "4 pane(s)" in capsys.readouterr().out and out.stat().st_size > 0
    assert main(["video", *_networks(lineage), "--seeds", "0-1", "--translate-path", "circle:0.1", "--device", "cpu",
                 "--out", str(tmp_path / "moving.mp4")]) == 1
    err = capsys.readouterr().err
    assert "progan.pkl" in err and "stylegan.pkl" in err and "stylegan3-r" not in err


def test_sticking_over_connect_gives_the_local_scores(lineage, capsys):
    from tests.support.service import running_server

    argv = ["sticking", *_networks(lineage), "--samples", "3", "--psi", "0.7"]
    assert main([*argv, "--device", "cpu"]) == 0
    local = re.findall(r"sticking ([0-9.]+)", capsys.readouterr().out)
    with running_server([str(Path(lineage[0]).parent)]) as server:
        assert main([*argv, "--connect", server.address.removeprefix("tcp://")]) == 0
    remote = re.findall(r"sticking ([0-9.]+)", capsys.readouterr().out)
    assert len(local) == 4 and remote == local
