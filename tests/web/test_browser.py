"""The page in a real headless chromium: what it shows is what `sg3-explorer render` writes, bit for bit.

One server and one browser for the module (starting chromium costs seconds on the shared CPUs); the tests
drive the page as a person would (buttons, a drag on the image, the layer list, the keyboard) and read the
shown image back through a canvas with the colour profile forced to sRGB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.browser import browser_or_skip, screenshot, shown_pixels, wait_for
from tests.support.nets import save_tiny

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SETTLED = """
const s = window.sg3;
return s.shown.a !== null && s.frames > 0 && JSON.stringify(s.shown.a.request) === JSON.stringify(s.request)
  ? s.shown.a.request : null;
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    pytest.importorskip("aiohttp")
    from sg3_explorer.web.server import BackgroundServer, WebConfig, WebServer
    from stylegan3.service.policy import AllowList

    folder = tmp_path_factory.mktemp("nets")
    net = save_tiny(folder / "tiny-t.safetensors", "SG3-T", res=32)
    save_tiny(folder / "tiny-sg2.safetensors", "SG2", res=32)  # the compared network
    server = BackgroundServer(WebServer(WebConfig(port=0, allow=AllowList.parse([str(folder)]), networks=[str(net)])))
    yield server, net
    server.close()


@pytest.fixture(scope="module")
def driver(served):
    drv = browser_or_skip()
    yield drv
    drv.quit()


def settled(driver, timeout: float = 120.0) -> dict:
    """The request of the frame on screen, once the page shows the newest request it sent."""
    return wait_for(lambda: driver.execute_script(SETTLED), timeout, "the page to show its newest request")


def rendered_by_cli(request: dict, tmp_path: Path) -> np.ndarray:
    """What `sg3-explorer render --session` writes for this request (a separate process, the CLI's path)."""
    from stylegan3.documents.request import from_dict
    from stylegan3.documents.session import Session, save_session

    tmp_path.mkdir(parents=True, exist_ok=True)
    path = save_session(tmp_path / "shown.sg3session.json", Session(request=from_dict(request)))
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sg3_explorer",
            "render",
            "--session",
            str(path),
            "--outdir",
            str(out),
            "--device",
            "cpu",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return np.asarray(Image.open(out / "shown.png").convert("RGB"))


def open_page(driver, url: str) -> dict:
    driver.get(url)
    return settled(driver)


def test_seed_drag_and_layer_show_the_cli_render_bit_for_bit(served, driver, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import Select

    server, net = served
    first = open_page(driver, server.url)
    assert first["network"]["source"] == str(net)
    assert first["latent"]["x"] == 0

    driver.find_element("id", "seed-inc").click()
    driver.find_element("id", "seed-inc").click()
    after_seed = settled(driver)
    assert after_seed["latent"]["x"] == 2
    seed_pixels = shown_pixels(driver)
    assert np.array_equal(seed_pixels, rendered_by_cli(after_seed, tmp_path / "seed"))

    image = driver.find_element("id", "img-a")
    ActionChains(driver).move_to_element(image).click_and_hold().move_by_offset(40, 0).move_by_offset(
        40, 25
    ).release().perform()
    dragged = settled(driver)
    tx, ty = dragged["transform"]["translate"]
    assert tx > 0.05 and ty > 0.01  # the content followed the mouse right and down
    drag_pixels = shown_pixels(driver)
    assert not np.array_equal(drag_pixels, seed_pixels)
    assert np.array_equal(drag_pixels, rendered_by_cli(dragged, tmp_path / "drag"))

    layers = [o.get_attribute("value") for o in Select(driver.find_element("id", "layer")).options]
    layer = layers[2]  # an inner layer of the tiny net
    Select(driver.find_element("id", "layer")).select_by_value(layer)
    picked = settled(driver)
    assert picked["layer"]["layer"] == layer
    layer_pixels = shown_pixels(driver)
    assert np.array_equal(layer_pixels, rendered_by_cli(picked, tmp_path / "layer"))
    assert "layer_shape" in driver.execute_script("return window.sg3.shown.a.header.stats")
    screenshot(driver, "web_layer_view.png")

    Select(driver.find_element("id", "lossless-format")).select_by_value("raw")  # lossless without an encoder
    wait_for(lambda: driver.execute_script("return window.sg3.shown.a.header.format") == "raw", 60, "a raw frame")
    assert settled(driver) == picked
    assert driver.find_element("id", "img-a").get_attribute("hidden") is not None
    assert np.array_equal(shown_pixels(driver, "raw-a"), layer_pixels)
    Select(driver.find_element("id", "lossless-format")).select_by_value("png")


def test_keyboard_psi_fft_and_jpeg_switch(served, driver, tmp_path):
    server, _ = served
    before = open_page(driver, server.url)
    body = driver.find_element("tag name", "body")
    body.send_keys("\ue014")  # arrow right: next seed
    body.send_keys("\ue013")  # arrow up: psi + 0.05
    after = settled(driver)
    assert after["latent"]["x"] == before["latent"]["x"] + 1
    assert after["truncation"]["psi"] == pytest.approx(before["truncation"]["psi"] + 0.05)
    body.send_keys("]")  # the next layer
    body.send_keys("f")  # its FFT view
    fft = settled(driver)
    assert fft["fft"]["enabled"] and fft["layer"]["layer"]
    assert np.array_equal(shown_pixels(driver), rendered_by_cli(fft, tmp_path))
    body.send_keys("f")
    body.send_keys("[")
    assert settled(driver)["layer"]["layer"] is None
    body.send_keys("l")  # lossless off: JPEG frames
    wait_for(lambda: driver.execute_script("return window.sg3.shown.a.header.format") == "jpeg", 60, "a JPEG frame")
    body.send_keys("l")
    wait_for(lambda: driver.execute_script("return window.sg3.shown.a.header.format") == "png", 60, "a PNG frame")


def test_second_tab_does_not_disturb_the_first(served, driver, tmp_path):
    server, _ = served
    shown = open_page(driver, server.url)
    pixels = shown_pixels(driver)
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    try:
        open_page(driver, server.url)
        seed = driver.find_element("id", "seed")
        seed.clear()
        seed.send_keys("7\n")
        other = settled(driver)
        assert other["latent"]["x"] == 7
        other_pixels = shown_pixels(driver)
        frames_second = driver.execute_script("return window.sg3.frames")
    finally:
        driver.close()
        driver.switch_to.window(first)
    assert driver.execute_script("return window.sg3.shown.a.request") == shown  # untouched by the other tab
    assert np.array_equal(shown_pixels(driver), pixels)
    assert not np.array_equal(other_pixels, pixels)
    assert frames_second >= 1
    driver.find_element("id", "seed-inc").click()  # the first tab still renders its own requests
    assert settled(driver)["latent"]["x"] == shown["latent"]["x"] + 1
    wait_for(
        lambda: all(not t.closed for t in server.server.tabs) and len(server.server.tabs) == 1,
        30,
        "the closed tab's session to be freed",
    )


HOSTILE = """
const done = arguments[arguments.length - 1];
const url = location.href.replace(/^http/, 'ws').replace(/[^/]*$/, '') + 'ws';
const ws = new WebSocket(url);
const replies = [];
ws.onmessage = (e) => { replies.push(JSON.parse(e.data)); if (replies.length === arguments[0].length) done(replies); };
ws.onopen = () => { for (const m of arguments[0]) ws.send(m); };
setTimeout(() => done(replies), 20000);
"""


def test_hostile_messages_get_errors_and_the_server_keeps_serving(served, driver):
    server, _ = served
    shown = open_page(driver, server.url)
    request = json.dumps(shown)
    messages = [
        "{not json",
        json.dumps({"op": "shutdown", "id": 1}),
        json.dumps({"op": "load", "id": 2, "source": "/etc/passwd"}),
        json.dumps({"op": "load", "id": 3, "source": "../../etc/shadow"}),
        json.dumps({"op": "render", "id": 4, "request": {"schema": 2, "latent": "zero"}}),
        json.dumps({"op": "render", "id": 5, "request": json.loads(request), "format": "bmp"}),
        json.dumps({"op": "render", "id": 6, "request": json.loads(request), "quality": 1000}),
        json.dumps({"op": "ping", "id": 7, "pad": "x" * (800 * 1024)}),
        json.dumps({"op": "import_session", "id": 8, "text": '{"schema": 99}'}),
        json.dumps([1, 2, 3]),
    ]
    replies = driver.execute_async_script(HOSTILE, messages)
    assert len(replies) == len(messages)
    assert all(r["op"] == "error" for r in replies), replies
    text = " | ".join(r["error"] for r in replies)
    for needle in (
        "not JSON",
        "unknown op",
        "outside the folders",
        "'..'",
        "RenderRequest: missing field",
        "format",
        "quality",
        "too large",
        "newer sg3-explorer",
        "JSON object",
    ):
        assert needle in text
    driver.find_element("id", "seed-inc").click()  # the page's own socket still gets frames
    assert settled(driver)["latent"]["x"] == shown["latent"]["x"] + 1
    driver.find_element("id", "network-custom").send_keys("/etc/passwd\n")  # a person typing a refused path
    box = driver.find_element("id", "error")
    wait_for(box.is_displayed, 30, "the error line")
    assert box.text.startswith("refused: /etc/passwd: outside the folders")
    screenshot(driver, "web_error.png")
    assert driver.execute_script("return window.sg3.request.network.source") == shown["network"]["source"]
    assert driver.find_element("id", "net-info").text.startswith("SG3-T · 32²")  # the shown network's line stays


def test_bookmarks_export_and_import_as_a_session_file(served, driver, tmp_path):
    from stylegan3.documents.session import from_data

    server, _ = served
    shown = open_page(driver, server.url)
    driver.find_element("id", "bm-name").send_keys("first view")
    driver.find_element("id", "bm-add").click()
    marks = driver.execute_script("return window.sg3.bookmarks")
    assert [m["name"] for m in marks] == ["first view"]
    reply = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];window.sg3.exportSession().then(done, (e) => done(String(e)));"
    )
    session = from_data(json.loads(reply))
    assert [b.name for b in session.bookmarks] == ["first view"]
    assert session.bookmarks[0].request.latent.x == shown["latent"]["x"]
    path = tmp_path / "marks.sg3session.json"
    path.write_text(reply)
    driver.find_element("id", "seed-inc").click()
    settled(driver)
    driver.find_element("id", "bm-import").send_keys(str(path))
    wait_for(lambda: driver.execute_script(SETTLED) == shown, 60, "the imported session's view")
    screenshot(driver, "web_bookmarks.png")


def test_compare_in_lockstep_and_the_live_spectrum(served, driver):
    from selenium.webdriver.support.ui import Select

    server, net = served
    open_page(driver, server.url)
    other = str(net.parent / "tiny-sg2.safetensors")
    driver.find_element("css selector", "#compare-box > summary").click()  # open the section
    Select(driver.find_element("id", "network-b")).select_by_value(other)
    driver.find_element("id", "compare").click()
    driver.find_element("id", "seed-inc").click()
    main = settled(driver)
    compared = wait_for(
        lambda: driver.execute_script(
            "const b = window.sg3.shown.b; return b && b.request.latent.x === arguments[0] ? b.request : null;",
            main["latent"]["x"],
        ),
        120,
        "the compared view to follow the seed",
    )
    assert compared["network"]["source"] == other and compared["truncation"] == main["truncation"]
    assert shown_pixels(driver, "img-b").shape == (32, 32, 3)
    driver.find_element("id", "spectrum-live").click()
    spectrum = wait_for(lambda: driver.execute_script("return window.sg3.spectrum || null"), 120, "the live spectrum")
    assert spectrum["layer"] and len(spectrum["freqs"]) == len(spectrum["db"]) > 4
    screenshot(driver, "web_compare_spectrum.png")
    driver.find_element("id", "sticking").click()
    marks = wait_for(
        lambda: driver.execute_script("const s = window.sg3.sticking; return s.a && s.b ? [s.a, s.b] : null;"),
        180,
        "the sticking view of both networks",
    )
    assert all(0.0 <= m["score"] <= 1.0 and m["samples"] == 8 for m in marks)
    assert "sticking" in driver.find_element("id", "cap-b").text
    screenshot(driver, "web_sticking.png")
    driver.find_element("id", "compare").click()
    driver.find_element("id", "spectrum-live").click()


def test_seed_pad_shift_drag_rotates_and_animation_walks(served, driver):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    server, _ = served
    start = open_page(driver, server.url)
    pad = driver.find_element("id", "pad")
    ActionChains(driver).move_to_element_with_offset(pad, 40, 20).click().perform()  # right of and below centre
    blended = settled(driver)
    assert blended["latent"]["x"] > round(start["latent"]["x"]) + 0.5 and blended["latent"]["y"] > 0.2
    image = driver.find_element("id", "img-a")
    ActionChains(driver).key_down(Keys.SHIFT).move_to_element(image).click_and_hold().move_by_offset(
        60, 0
    ).release().key_up(Keys.SHIFT).perform()
    rotated = settled(driver)
    assert (
        rotated["transform"]["rotate"] > 0.01 and rotated["transform"]["translate"] == blended["transform"]["translate"]
    )
    driver.find_element("tag name", "body").send_keys(" ")  # space: animate (walks along the seed plane)
    x0 = rotated["latent"]["x"]
    wait_for(lambda: driver.execute_script("return window.sg3.shown.a.request.latent.x") > x0 + 0.01, 60, "a walk")
    driver.find_element("tag name", "body").send_keys(" ")
    assert driver.execute_script("return window.sg3.animate") is False
    driver.find_element("id", "reset-transform").click()
    assert settled(driver)["transform"] == {"translate": [0, 0], "rotate": 0}
