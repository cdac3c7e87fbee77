"""With `--connect` the window's process never builds a network module: every panel's computation (frames,
comparison panes, equivariance, spectra, sticking, trace, recording, PCA, seed-set and bookmark directions,
projection, timeline preview and export) runs on the server. Counted by patching `torch.nn.Module.__init__`
while the app's session (`Explorer`, no window needed) runs each of them against a server in another process.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.support.nets import write_tiny_nets
from tests.support.service import free_port

REPO = Path(__file__).resolve().parents[2]


def _serve(port: int, allow: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "stylegan3.cli.main", "serve", "--listen", f"127.0.0.1:{port}",
                             "--allow", str(allow), "--device", "cpu"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _until(cond, poll=lambda: None, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        poll()
        time.sleep(0.01)


def test_connect_builds_no_module_in_the_window_process(tmp_path, monkeypatch):
    pytest.importorskip("imgui_bundle")
    from sg3_explorer.visualizer import network_jobs as jobs
    from sg3_explorer.visualizer.explorer import AppConfig, Explorer
    from sg3_explorer.visualizer.jobs import JobSlot
    from stylegan3.documents.request import Latent
    from stylegan3.explore.projection import load_target

    nets = write_tiny_nets(tmp_path / "nets", res=16)
    port = free_port()
    server = _serve(port, tmp_path / "nets")
    built: list[str] = []
    real_init = torch.nn.Module.__init__

    def counting_init(self, *args, **kwargs):
        built.append(type(self).__name__)
        real_init(self, *args, **kwargs)

    try:
        assert "listening on tcp://127.0.0.1:" in server.stdout.readline()
        monkeypatch.setattr(torch.nn.Module, "__init__", counting_init)
        monkeypatch.setenv("SG3_EXPLORER_CACHE", str(tmp_path / "cache"))
        app = Explorer(AppConfig(networks=[str(nets["SG3-T"])], connect=f"127.0.0.1:{port}", persist_settings=False))
        try:
            _until(lambda: app.shown_request == app.request.for_frame(), app.poll)
            assert app.last_image.shape == (16, 16, 3) and app.info.kind == "SG3-T"
            app.request = app.request.edit("latent", x=2.0).edit("transform", translate=(0.25, 0.0))
            _until(lambda: app.shown_request == app.request.for_frame(), app.poll)
            request = app.current_request()

            def run(job):
                slot = JobSlot()
                assert app.start_job(slot, job)
                _until(lambda: not slot.busy)
                ok, result = slot.poll()
                assert ok, slot.error
                return result

            assert set(run(jobs.equivariance_job(request))) == {"eqt", "eqt_frac", "eqr"}
            assert run(jobs.spectra_job(request, ["output"], 1, 2, 1.0))["output"].power.ndim == 2
            avg, res = run(jobs.sticking_job(request, 2, 0.2))
            assert avg.shape == (16, 16, 3) and 0.0 <= res.score <= 1.0
            assert run(jobs.pca_job(request, 64)).vectors.shape[1] == 16
            assert len(app.compute(jobs.seed_set_direction_job(request, [1], [2], 1.0, "1->2")).labels) == 1
            other = request.replace(latent=Latent(5.0))
            assert app.compute(jobs.user_direction_job(request, other, "B0->B1", "B0->B1")).vectors.shape[1] == 16
            assert app.compute(jobs.request_ws_job(request)).shape == (1, app.info.num_ws, 16)
            steps = []
            target = load_target(str(_target_png(tmp_path)), 16, 3)
            done = run(jobs.projection_job(request, target, 2, "w", "offline", steps.append))
            assert [s.step for s in steps][-1] == 2 and np.isfinite(done.psnr)
            assert done.step.ws.shape[1] == app.info.num_ws and done.loss_kind == "offline"
            timeline = app.widget("timeline")
            timeline.add_bookmark()
            app.request = app.request.edit("latent", x=4.0)
            timeline.add_bookmark()
            timeline.preview(0.5)
            assert timeline.previewing and app.request.explicit.w is not None, timeline.message
            _until(lambda: app.shown_request == app.request.for_frame(), app.poll)
            if importlib.util.find_spec("imageio_ffmpeg") is not None:
                assert run(jobs.timeline_export_job(timeline.timeline, timeline.base(), tmp_path / "t.mp4",
                                                    4.0, 3)) == 3
                assert run(jobs.record_job(request, tmp_path / "r.mp4", 2, 10.0, "circle:0.1", 0.0)) == 2
            comparison = app.widget("comparison").model
            comparison.add(str(nets["SG2"]))
            _until(lambda: comparison.all_shown(app.request), lambda: (app.poll(), comparison.tick(app.request)))
            comparison.start_sticking(app.request)
            comparison.start_trace(app.request)
            assert comparison.wait_jobs(120)
            comparison.tick(app.request)
            pane = comparison.panes[0]
            assert pane.sticking_image is not None and pane.trace_image is not None, pane.status
        finally:
            app.close()
        assert built == []
        torch.nn.Linear(1, 1)  # the counter sees a module built in this process
        assert built == ["Linear"]
    finally:
        server.terminate()
        server.wait(15)


def _target_png(folder: Path) -> Path:
    from PIL import Image

    path = folder / "target.png"
    Image.new("RGB", (16, 16), (200, 40, 40)).save(path)
    return path
