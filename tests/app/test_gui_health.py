"""The window after an out-of-memory render, and the Performance panel's self-check lines (real window)."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from tests.support.gui import grab_window, wait_image_for_request, wait_until
from tests.support.nets import save_tiny, tiny_net

pytestmark = pytest.mark.gui


def test_out_of_memory_render_shows_the_message_and_the_app_keeps_running(app_env, artifacts_dir, monkeypatch):
    from sg3_explorer.visualizer.app import App, AppConfig
    from stylegan3.ops import backend, selfcheck
    from stylegan3.ops.reference_kernels import ReferenceKernels
    from stylegan3.render.memory import SUGGESTION
    from stylegan3.service.owner import default_loader
    from stylegan3.service.thread_backend import ThreadBackend

    # A verdict to show: graphs found differing from eager on this device (simulated replay). Start from no
    # verdicts: an earlier test's check of the same architecture on "cpu" would make `ensure` keep that one.
    selfcheck.reset()
    backend.enable_all()
    checked = tiny_net("sg2")
    selfcheck.ensure(checked, "cpu", kernels=ReferenceKernels(), identity={"device": "test CPU"}, stream=io.StringIO(),
                     replay=lambda G, ws, fp32: G.synthesis(ws, noise_mode="const", force_fp32=fp32) + 0.01)
    monkeypatch.setenv("SG3_SELFCHECK", "0")  # the loader's own check (CPU kernels) would replace that verdict
    short_of_memory = {"on": False}

    def loader(ref, device):
        G = default_loader(ref, device)
        real = G.synthesis.forward

        def synthesis(*args, **kwargs):
            if short_of_memory["on"]:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB.")
            return real(*args, **kwargs)

        G.synthesis.forward = synthesis
        return G

    net = save_tiny(app_env / "tiny.safetensors", kind="sg2", res=32)
    app = App(AppConfig(networks=[str(net)], window_size=(1200, 760), persist_settings=False),
              backend=ThreadBackend("cpu", loader=loader))

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        wait_image_for_request(ctx, app)
        ctx.item_open("**/Performance")
        short_of_memory["on"] = True
        ctx.item_input_value("**/Seed", 5)
        assert wait_until(ctx, lambda: app.render_error is not None, 30)
        assert app.render_error == f"out of GPU memory while rendering (tried to allocate 8.00 GiB): {SUGGESTION}"
        for header in ("Network", "Latent", "Truncation & noise"):  # bring the panel's last lines into view
            ctx.item_close(f"**/{header}")
        for _ in range(3):
            ctx.yield_()
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_out_of_memory.png")
        assert app.panel_errors == {}  # the Performance panel drew its self-check lines without trouble
        assert any("graphs switched off" in line for line in selfcheck.status_lines(app.device))

        short_of_memory["on"] = False  # e.g. fp16 or fewer panes: the same window renders again
        ctx.item_open("**/Latent")
        ctx.item_input_value("**/Seed", 6)
        wait_image_for_request(ctx, app)
        assert app.render_error is None and app.request.latent.x == 6.0

    try:
        app.run(test_function=drive)
    finally:
        selfcheck.reset()
        backend.enable_all()
