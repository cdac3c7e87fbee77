"""`gui --connect` to a port that accepts but never answers: the window opens at once, says it is connecting,
shows the failure within seconds with a Retry button; Retry once nothing listens fails at once (refused); Retry
once the server runs connects, loads and shows the image."""

from __future__ import annotations

import time

import pytest
from PIL import Image

from tests.support.gui import assert_shows, grab_window, run_driven, wait_image_for_request, wait_until
from tests.support.nets import tiny_net
from tests.support.service import free_port, running_server, silent_listener

pytestmark = pytest.mark.gui


def test_connect_failure_is_shown_and_retry_connects(app_env, artifacts_dir):
    from sg3_explorer.visualizer.app import App, AppConfig
    from stylegan3.loading.native import save_native
    from stylegan3.networks.info import describe
    from stylegan3.render.pipeline import render_request

    folder = app_env / "served"
    folder.mkdir()
    G = tiny_net("SG2", res=32)

    net = save_native(G, folder / "sg2.safetensors")
    port = free_port()
    address = f"127.0.0.1:{port}"
    listener = silent_listener(port)  # something listens at first, but it is no render server
    listener.__enter__()
    t0 = time.monotonic()
    app = App(AppConfig(networks=[str(net)], window_size=(1200, 800), connect=address, persist_settings=False))
    assert time.monotonic() - t0 < 2.0  # nothing waits for the server before the window opens
    seen = {}

    def drive(ctx):
        seen["first_frame_s"] = time.monotonic() - t0
        conn = app.connection
        assert conn.state.state == "connecting"
        assert app._placeholder() == f"connecting to {address} ..."
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_connect_connecting.png")
        assert wait_until(ctx, lambda: conn.failed, 15), conn.state
        seen["silent_s"] = time.monotonic() - t0
        assert conn.state.message == (
            f"cannot reach {address}: no answer from tcp://{address} for 3 s; is "
            "`sg3-explorer serve` running there, or the SSH tunnel open?"
        )
        assert app.network is None and not app.loader.busy  # no load was sent to an address that never answered
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_connect_no_answer.png")
        listener.__exit__(None, None, None)

        ctx.item_click("**/Retry##connect")  # nothing listens now: refused, at once
        t1 = time.monotonic()
        assert wait_until(ctx, lambda: conn.failed, 10), conn.state
        seen["refused_s"] = time.monotonic() - t1
        assert conn.state.message.startswith(f"cannot reach {address}: nothing listens on {address} (connection")
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_connect_refused.png")

        with running_server([str(folder)], port=port):  # the user starts the server, then presses Retry
            ctx.item_click("**/Retry##connect")
            assert wait_until(ctx, lambda: app.network is not None, 60), (conn.state, app.loader.status)
            assert conn.connected and not ctx.item_exists("**/Retry##connect")
            wait_image_for_request(ctx, app, 60)
            shot = grab_window(ctx, app)
            Image.fromarray(shot).save(artifacts_dir / "gui_connect_retried.png")
            assert_shows(shot, app, render_request(G, app.current_request(), describe(G, str(net))).image)

    try:
        run_driven(app, drive)
    finally:
        listener.__exit__(None, None, None)
    assert seen["silent_s"] < seen["first_frame_s"] + 8  # a silent port: the failure within the 5 s connect wait
    assert seen["refused_s"] < 2  # a refused port: at once


def test_cli_screenshot_of_a_failed_connect_is_one_line(app_env, artifacts_dir):
    """`gui --connect` to a closed port with `--screenshot`: exit 1 and one `error:` line naming the cause (the
    window exits as soon as the connection fails, not after a load timeout)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    port = free_port()
    out = app_env / "refused.png"
    env = dict(os.environ, SG3_CONFIG_DIR=str(app_env / "cli_config"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sg3_explorer",
            "gui",
            "--connect",
            f"127.0.0.1:{port}",
            "--screenshot",
            str(out),
            "--size",
            "900x600",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=Path(__file__).resolve().parents[2],
        env=env,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"error: cannot reach 127.0.0.1:{port}: nothing listens on 127.0.0.1:{port} (connection refused); is "
        f"`sg3-explorer serve` running there, or the SSH tunnel open? (screenshot of the window saved to {out})"
    ]
    Image.open(out).save(artifacts_dir / "gui_connect_cli_refused.png")
