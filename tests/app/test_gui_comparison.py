"""Comparison mode in the real window (Xvfb + Mesa), driven by Dear ImGui's test engine.

Two networks side by side in the "Comparison" window, driven by the app's own controls: each pane's pixels on
screen must equal a headless `render_image` of the pane's state (up to scaling, panes of different resolution
are shown at one size), the sticking view must show the library's average with its score, the trace view the
recorded rows. Runs once with two tiny nets of our own (different z_dim and resolution) and once with the
NVIDIA-made SG2 and SG3-T fixtures.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.support.comparison import (
    check_panes,
    check_split,
    imgui_vec,
    make_app,
    run_driven,
    shown,
    wait_panes,
)
from tests.support.gui import grab_window, wait_image_for_request, wait_until
from tests.support.nets import save_tiny
from tests.support.tf_lineage_fakes import write_lineage_nets

pytestmark = pytest.mark.gui


def test_comparison_tiny_nets(app_env, artifacts_dir):
    """Add two panes by typing paths, then drive seed, lockstep motion, sticking view, trace view and recording."""
    sg2 = save_tiny(app_env / "sg2_z16_32px.safetensors", "sg2", z_dim=16, res=32, seed=0)
    sg3 = save_tiny(app_env / "sg3_z24_16px.safetensors", "sg3", z_dim=24, res=16, seed=1)
    app = make_app(app_env, [str(sg2)])
    widget = app.widget("comparison")
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        wait_image_for_request(ctx, app)
        ctx.item_open("**/Comparison")
        ctx.item_click("**/Show comparison window")
        assert widget.window_open
        ctx.item_input_value("**/##cmp_path", str(sg2))  # Enter in the path field adds the pane
        assert [p.source for p in widget.model.panes] == [str(sg2)]
        ctx.item_input_value("**/##cmp_path", str(sg3))
        ctx.item_click("**/Add pane")  # the button adds the typed path again: a third pane ...
        assert [p.source for p in widget.model.panes] == [str(sg2), str(sg3), str(sg3)]
        ctx.item_click("**/pane3/x")  # ... which its close button removes
        ctx.yield_()
        assert [p.source for p in widget.model.panes] == [str(sg2), str(sg3)]
        wait_panes(ctx, app, widget)
        p2, p3 = widget.model.panes
        assert (p2.info.kind, p2.info.z_dim, p2.info.resolution) == ("SG2", 16, 32)
        assert (p3.info.kind, p3.info.z_dim, p3.info.resolution) == ("SG3-T", 24, 16)
        assert widget.model.notes(p3, app.request) == [
            "z_dim 24 (not 16): latent not shared, z drawn from the same seed at z_dim 24"]
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_comparison_tiny.png")
        seen["seed0"] = check_panes(shot, app, widget)

        # Split view: both panes on one square, the first left of a divider the mouse drags.
        ctx.item_click("**/Split view")
        for _ in range(3):
            ctx.yield_()
        rect = widget.view.rects[(p2.pane_id, "split")]
        ctx.item_drag_with_delta("**/##split", imgui_vec(-0.2 * rect[2], 0))
        ctx.yield_()
        assert widget.view.divider == pytest.approx(0.3, abs=0.02)
        ctx.mouse_move_to_pos(imgui_vec(5, 5))  # no tooltip over the image
        ctx.yield_()
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_comparison_split.png")
        seen["split"] = check_split(shot, widget, p2, p3)
        ctx.item_click("**/Split view")

        # The main controls drive every pane.
        app.request = app.request.edit("truncation", psi=0.6)  # (typing into psi is covered by the main GUI tests)
        ctx.item_input_value("**/Seed", 4)
        assert app.request.latent.x == 4.0
        wait_panes(ctx, app, widget)
        assert p2.shown_request.latent.seed == p3.shown_request.latent.seed == 4
        check_panes(grab_window(ctx, app), app, widget)

        # Per-pane override where the nets differ: random noise on the SG2 pane only (SG3 has no noise inputs).
        # (Set on the pane's overrides, which its "Pane noise" combo edits; the test engine did not find a combo
        # inside the table.)
        p2.overrides.noise_mode = "random"
        wait_panes(ctx, app, widget)
        assert p2.shown_request.noise.mode == "random" and app.request.noise.mode == "const"
        assert p3.shown_request.noise.mode == "const"
        check_panes(grab_window(ctx, app), app, widget)
        p2.overrides.noise_mode = "follow"

        # Lockstep motion: the SG3 pane follows the path, the SG2 pane ignores it and says so.
        ctx.item_click("**/Lockstep motion")
        assert wait_until(ctx, lambda: app.request.transform.translate != (0.0, 0.0), 5)
        assert p2.request_for(app.request).transform.translate == (0.0, 0.0)
        assert p3.request_for(app.request).transform.translate == app.request.transform.translate
        assert "SG2: no input transform, ignores translate/rotate" in widget.model.notes(p2, app.request)
        ctx.item_click("**/Lockstep motion")
        assert app.request.transform.translate == (0.0, 0.0) and not widget.motion
        widget.set_motion_time(0.25)  # a fixed point of the path: circle:0.1 at a quarter turn
        assert app.request.transform.translate == pytest.approx((0.0, 0.1))
        wait_panes(ctx, app, widget)
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_comparison_lockstep.png")
        check_panes(shot, app, widget)
        assert p3.shown_request.transform.translate == pytest.approx((0.0, 0.1))
        assert p2.shown_request.transform.translate == (0.0, 0.0)

        # Sticking view: K frames and perturbation from the controls, progress while it runs, score per pane.
        ctx.item_click("**/Sticking view")
        ctx.item_input_value("**/K frames", 3)
        assert widget.model.sticking.samples == 3
        widget.model.sticking.sigma = 0.3
        ctx.item_click("**/Compute sticking")
        assert widget.model.sticking_progress is not None or all(p.sticking_score is not None for p in (p2, p3))
        assert wait_until(ctx, lambda: not widget.model.busy and p3.sticking_score is not None, 60)
        for _ in range(3):
            ctx.yield_()
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_comparison_sticking.png")
        for pane in (p2, p3):  # (that the job computes the library's average: tests/app/test_comparison_model.py)
            assert pane.sticking_request == pane.request_for(app.request)
            assert pane.sticking_request.truncation.psi == pytest.approx(0.6)
            assert pane.sticking_image.shape == pane.image.shape
            assert shown(shot, widget, pane, "sticking", pane.sticking_image) < 2.0
            assert shown(shot, widget, pane, "sticking", pane.image) > 2.0  # the average, not the frame
        seen["scores"] = (p2.sticking_score, p3.sticking_score)

        # Trace view: one row over the frames of the interpolation seed 4 -> 5, per pane.
        ctx.item_click("**/Sticking view")
        ctx.item_click("**/Trace view")
        ctx.item_input_value("**/Trace frames", 4)
        ctx.item_click("**/Record trace")
        assert wait_until(ctx, lambda: not widget.model.busy and p3.trace_image is not None, 60)
        for _ in range(3):
            ctx.yield_()
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_comparison_trace.png")
        for pane in (p2, p3):
            assert pane.trace_image.shape == (4, pane.info.resolution, 3)
            assert np.array_equal(pane.trace_image[0], pane.image[pane.info.resolution // 2])  # frame 0 = shown
            assert shown(shot, widget, pane, "trace", pane.trace_image) < 2.0

        # Save panes: a labelled PNG of the panes (and here the sticking averages) in the capture folder.
        widget.show_sticking = True
        ctx.item_click("**/Save panes")
        saved = sorted((app_env / "captures").glob("comparison_*.png"))
        why = (widget.model.record_message, app.panel_errors)
        assert len(saved) == 1 and widget.model.record_message == f"saved {saved[0]}", why
        png = np.asarray(Image.open(saved[0]))
        Image.fromarray(png).save(artifacts_dir / "gui_comparison_saved_panes.png")
        assert png.shape == (2 * (24 + 256), 512, 3)  # label + image, label + average; 2 panes enlarged to 256
        assert np.array_equal(png[24:280:8, :256:8], p2.image)
        assert np.array_equal(png[304::8, :256:8], p2.sticking_image)
        assert np.array_equal(png[304::16, 256::16], p3.sticking_image)

        # Record: an mp4 of the panes side by side in the capture folder.
        widget.record_seconds = 0.2  # 3 frames per seed at 15 fps
        ctx.item_click("**/Record mp4")
        assert wait_until(ctx, lambda: widget.model.record is None and widget.model.record_message.startswith(
            ("wrote", "recording failed")), 60)
        seen["record"] = widget.model.record_message

    run_driven(app, drive)
    assert max(seen["seed0"]) < 2.0
    assert all(0.0 <= s <= 1.0 for s in seen["scores"])
    assert seen["record"].startswith("wrote") and (app_env / "captures" / "comparison_seed4.mp4").is_file()


@pytest.mark.fixtures
def test_comparison_official_sg2_vs_sg3t(app_env, artifacts_dir, fixtures_dir):
    """`gui sg2.pkl sg3t.pkl` opens both as panes; pixels match headless renders; sticking score per pane."""
    nets = [str(fixtures_dir / "sg2.pkl"), str(fixtures_dir / "sg3t.pkl")]
    app = make_app(app_env, nets)
    widget = app.widget("comparison")
    seen = {}

    def drive(ctx):
        wait_panes(ctx, app, widget, timeout=90)
        assert widget.window_open
        assert [p.info.kind for p in widget.model.panes] == ["SG2", "SG3-T"]
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_comparison_fixtures.png")
        seen["diffs"] = check_panes(shot, app, widget)

        ctx.item_click("**/Sticking view")
        ctx.item_input_value("**/K frames", 2)
        ctx.item_click("**/Compute sticking")
        assert wait_until(ctx, lambda: widget.model.sticking_progress is None and all(
            p.sticking_score is not None for p in widget.model.panes), 90)
        for _ in range(3):
            ctx.yield_()
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_comparison_fixtures_sticking.png")
        for pane in widget.model.panes:
            assert pane.sticking_image.shape == (64, 64, 3) and 0.0 <= pane.sticking_score <= 1.0
            assert shown(shot, widget, pane, "sticking", pane.sticking_image) < 2.0
        seen["scores"] = [p.sticking_score for p in widget.model.panes]

    run_driven(app, drive)
    assert max(seen["diffs"]) < 2.0
    print("sticking scores (K=2) SG2, SG3-T:", seen["scores"])


def test_comparison_lineage_four_families(app_env, artifacts_dir):
    """The lineage view: four panes of four families on the command line, moved in lockstep (only the SG3-R pane
    follows the input path, the others say why), each equal to its headless render, each with a sticking score."""
    nets = [str(p) for p in write_lineage_nets(app_env)]
    app = make_app(app_env, nets)
    widget = app.widget("comparison")
    seen = {}

    def drive(ctx):
        wait_panes(ctx, app, widget, timeout=90)
        assert widget.window_open
        panes = widget.model.panes
        assert [p.info.kind for p in panes] == ["ProGAN", "SG1", "SG2", "SG3-R"]
        app.request = app.request.edit("truncation", psi=0.7)
        ctx.item_input_value("**/Seed", 3)
        widget.set_motion_time(0.25)  # circle:0.1 at a quarter turn: translate (0, 0.1)
        wait_panes(ctx, app, widget)
        assert panes[3].shown_request.transform.translate == pytest.approx((0.0, 0.1))
        for pane in panes[:3]:
            assert pane.shown_request.transform.translate == (0.0, 0.0)
            assert f"{pane.info.kind}: no input transform, ignores translate/rotate" in widget.model.notes(
                pane, app.request)
        assert any("no W space" in n for n in widget.model.notes(panes[0], app.request))
        seen["frames"] = check_panes(grab_window(ctx, app), app, widget)

        ctx.item_click("**/Sticking view")
        ctx.item_input_value("**/K frames", 3)
        ctx.item_click("**/Compute sticking")
        assert wait_until(ctx, lambda: not widget.model.busy and all(
            p.sticking_score is not None for p in panes), 120)
        for _ in range(3):
            ctx.yield_()
        ctx.mouse_move_to_pos(imgui_vec(5, 5))  # no tooltip over the images
        ctx.yield_()
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_comparison_lineage.png")
        seen["frames_after"] = check_panes(shot, app, widget)
        for pane in panes:
            assert pane.sticking_request == pane.request_for(app.request)
            assert pane.sticking_image.shape == pane.image.shape
            assert shown(shot, widget, pane, "sticking", pane.sticking_image) < 2.0
        seen["scores"] = {p.info.kind: p.sticking_score for p in panes}

        # Trace view: the middle row over the frames of the interpolation seed 3 -> 4, one per family.
        ctx.item_click("**/Sticking view")
        ctx.item_click("**/Trace view")
        ctx.item_input_value("**/Trace frames", 4)
        ctx.item_click("**/Record trace")
        assert wait_until(ctx, lambda: not widget.model.busy and all(p.trace_image is not None for p in panes), 120)
        for _ in range(3):
            ctx.yield_()
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_comparison_lineage_trace.png")
        for pane in panes:
            assert pane.trace_image.shape == (4, 32, 3)
            assert np.array_equal(pane.trace_image[0], pane.image[16])  # frame 0 = the shown image's middle row
            assert shown(shot, widget, pane, "trace", pane.trace_image) < 2.0

    run_driven(app, drive)
    assert max(seen["frames"] + seen["frames_after"]) < 2.0
    assert all(0.0 <= s <= 1.0 for s in seen["scores"].values()), seen["scores"]
    print("lineage sticking scores (K=3, untrained tiny nets):", seen["scores"])
