"""The Directions panel refuses a direction file made for another network, says so, and loads it only when the
user presses "Load anyway" (real window: Xvfb + Mesa, imgui test engine)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.support.gui import grab_window, reference_network, run_driven, wait_until
from tests.support.nets import save_tiny

pytestmark = pytest.mark.gui


def test_a_direction_file_of_another_network_needs_load_anyway(app_env, artifacts_dir):
    from sg3_explorer.visualizer.app import App, AppConfig
    from stylegan3.explore.directions import Directions, network_fingerprint, save_directions

    net = save_tiny(app_env / "tiny.safetensors", kind="sg2", res=32)
    app = App(AppConfig(networks=[str(net)], window_size=(1100, 860), persist_settings=False))
    app.settings.panels_open = {w.key: w.key == "directions" for w in app.widgets}
    seen = {}

    def files(w_dim: int, own: str) -> tuple[str, str]:
        vectors = np.eye(2, w_dim, dtype=np.float32)
        made = [
            save_directions(
                app_env / f"{name}.npz", Directions(vectors, np.ones(2), np.zeros(w_dim), network=fingerprint)
            )
            for name, fingerprint in (("theirs", "0123456789abcdef"), ("mine", own))
        ]
        return str(made[0]), str(made[1])

    def drive(ctx):
        assert wait_until(ctx, lambda: app.network is not None, 30)
        panel = app.widget("directions")
        G = reference_network(app)
        theirs, mine = files(int(G.w_dim), network_fingerprint(G))
        ctx.item_input_value("**/##dirpath", theirs)
        ctx.item_click("**/Load##dirs")
        assert panel.directions is None
        assert panel.message == (
            f"not loaded: {theirs}: made for another network (fingerprint 0123456789abcdef; "
            f"this network is {network_fingerprint(G)})"
        )
        ctx.yield_(3)
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_directions_other_network.png")
        ctx.item_click("**/Load anyway##dirs")
        assert panel.directions is not None and len(panel.directions) == 2
        seen["forced"] = panel.message
        ctx.yield_(3)
        Image.fromarray(grab_window(ctx, app)).save(artifacts_dir / "gui_directions_loaded_anyway.png")
        ctx.item_input_value("**/##dirpath", mine)
        ctx.item_click("**/Load##dirs")
        seen["mine"] = panel.message
        seen["button_gone"] = not panel.mismatch

    run_driven(app, drive)
    assert seen["forced"].endswith("theirs.npz (made for another network, loaded anyway)")
    assert seen["mine"] == f"loaded 2 directions (pca) from {app_env / 'mine.npz'}" and seen["button_gone"]
