"""A TensorFlow-era StyleGAN2 pickle in the real window: opened as the main network and as a comparison pane
beside a StyleGAN3 network; what is on screen equals the headless render of the loaded generator."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.support.comparison import check_panes, imgui_vec, magnified, make_app, run_driven, wait_panes
from tests.support.gui import (
    grab_window,
    mean_abs_diff,
    reference_network,
    wait_image_for_request,
    wait_until,
)
from tests.support.nets import save_tiny
from tests.support.tf_fakes import TFConfig, tf_snapshot

pytestmark = pytest.mark.gui

# A 64x64 StyleGAN2-ADA (TF) style generator: skip architecture, channels 32 -> 8 over the resolutions.
TF_NET = TFConfig({"num_channels": 3, "resolution": 64, "label_size": 0, "latent_size": 32, "dlatent_size": 32,
                   "fmap_base": 128, "fmap_max": 32, "mapping_layers": 2, "num_fp16_res": 4, "conv_clamp": 256},
                  flavour="ada", synthesis_func="G_synthesis")


def test_tf_pickle_in_main_view_and_beside_sg3(app_env, artifacts_dir):
    from sg3_explorer.visualizer.renderer import render_image

    tf_pkl = app_env / "stylegan2-ada-tf-64.pkl"
    tf_pkl.write_bytes(tf_snapshot(TF_NET, seed=3))
    sg3 = save_tiny(app_env / "sg3_z32_32px.safetensors", kind="sg3", z_dim=32, res=32, seed=1)
    app = make_app(app_env, [str(tf_pkl)])
    widget = app.widget("comparison")
    seen = {}

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 60), app.loader.status
        assert app.loader.status.error is None
        wait_image_for_request(ctx, app)
        G = reference_network(app)
        assert (app.network.info.kind, G.img_resolution, G.z_dim) == ("SG2", 64, 32)
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_tf_main.png")
        expected = render_image(G, app.request)
        assert float(expected.std()) > 5  # a structured image, not a flat colour
        # (The random TF weights give pixel-scale detail: compare with the bilinear magnification the view draws.)
        want, region = magnified(expected, app.image_view.image_rect)
        seen["main"] = mean_abs_diff(shot[region], want)

        # The comparison window: the main (TF) network as a pane, a StyleGAN3 network typed in beside it.
        ctx.item_open("**/Comparison")
        ctx.item_click("**/Show comparison window")
        ctx.item_click("**/Add main network")
        ctx.item_input_value("**/##cmp_path", str(sg3))
        assert [p.source for p in widget.model.panes] == [str(tf_pkl), str(sg3)]
        wait_panes(ctx, app, widget, timeout=90)
        assert [p.info.kind for p in widget.model.panes] == ["SG2", "SG3-T"]
        ctx.mouse_move_to_pos(imgui_vec(5, 5))  # no tooltip over the panes
        ctx.yield_()
        shot = grab_window(ctx, app)
        Image.fromarray(shot).save(artifacts_dir / "gui_tf_comparison.png")
        seen["panes"] = check_panes(shot, app, widget)

        ctx.item_input_value("**/Seed", 3)
        wait_panes(ctx, app, widget)
        assert widget.model.panes[0].shown_request.latent.seed == 3
        seen["seed3"] = check_panes(grab_window(ctx, app), app, widget)

    run_driven(app, drive)
    assert seen["main"] < 2.0 and max(seen["panes"]) < 2.0 and max(seen["seed3"]) < 2.0
