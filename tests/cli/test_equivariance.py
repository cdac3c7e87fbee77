"""`sg3-explorer equivariance` on the small reference networks."""

from __future__ import annotations

import json
import re

import pytest

from stylegan3.cli.main import main

pytestmark = pytest.mark.fixtures


def test_sg3_translation_equivariance_is_reported(fixtures_dir, tmp_path, capsys):
    report = tmp_path / "eq.json"
    rc = main(["equivariance", "--network", str(fixtures_dir / "sg3t.pkl"), "--samples", "2",
               "--metrics", "eqt_frac", "--device", "cpu", "--json", str(report)])
    assert rc == 0
    out = capsys.readouterr().out
    line = re.search(r"EQ-T_frac\s+([\d.]+) dB\s+\+- ([\d.]+)", out)
    assert line, out
    # the reference SG3-T net (random weights, smooth output) follows sub-pixel moves closely
    assert 50 < float(line.group(1)) < 150
    doc = json.loads(report.read_text())
    assert list(doc["metrics"]) == ["eqt_frac"] and len(doc["metrics"]["eqt_frac"]["per_sample_db"]) == 2
    assert doc["metrics"]["eqt_frac"]["psnr_db"] == pytest.approx(float(line.group(1)), abs=0.01)


def test_stylegan2_is_refused(fixtures_dir, capsys, monkeypatch):
    monkeypatch.setenv("SG3_SELFCHECK", "0")  # a first-use self-check of the CPU kernels would add its own line
    assert main(["equivariance", "--network", str(fixtures_dir / "sg2.pkl"), "--samples", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "StyleGAN3" in err and err.count("\n") == 1


def test_unknown_metric(fixtures_dir, capsys):
    assert main(["equivariance", "--network", str(fixtures_dir / "sg3t.pkl"), "--metrics", "eqt,eqz"]) == 1
    assert "unknown eqz" in capsys.readouterr().err
