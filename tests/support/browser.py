"""A real headless browser for the web page's tests: Debian's chromium driven by selenium.

`browser_or_skip()` gives a driver or skips the test when chromium, its driver or selenium is missing, so the
`browser` tests skip cleanly on machines without them (CI installs `chromium chromium-driver`). The colour
profile is forced to sRGB so that a PNG drawn into a canvas reads back as the very bytes it holds.
"""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER = ("/usr/bin/chromedriver",)
ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"


def _first(paths: tuple[str, ...], name: str) -> str | None:
    for path in paths:
        if Path(path).is_file():
            return path
    return shutil.which(name)


def browser_or_skip(width: int = 1400, height: int = 900):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install 'sg3-explorer[test]')")
    binary, driver = _first(CHROMIUM, "chromium"), _first(DRIVER, "chromedriver")
    if binary is None or driver is None:
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--force-color-profile=srgb",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


def wait_for(what: Callable[[], object], timeout: float = 60.0, message: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = what()
        except Exception as exc:  # noqa: BLE001 - the page may be between states; try again
            last = exc
        else:
            if last:
                return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message} (last: {last!r})")


# Draw the shown <img> (or the raw frames' <canvas>) into a canvas at its own size and read the pixels back
# (what the page shows).
READ_PIXELS = """
const img = document.getElementById(arguments[0]);
const c = document.createElement('canvas');
c.width = img.naturalWidth || img.width; c.height = img.naturalHeight || img.height;
const g = c.getContext('2d', {colorSpace: 'srgb', willReadFrequently: true});
g.drawImage(img, 0, 0);
const d = g.getImageData(0, 0, c.width, c.height).data;
let s = ''; for (let i = 0; i < d.length; i += 8192) s += String.fromCharCode.apply(null, d.subarray(i, i + 8192));
return [c.width, c.height, btoa(s)];
"""


def shown_pixels(driver, element_id: str = "img-a") -> np.ndarray:
    """HxWx3 uint8 of the image the page shows, read back through a canvas."""
    w, h, data = driver.execute_script(READ_PIXELS, element_id)
    rgba = np.frombuffer(base64.b64decode(data), dtype=np.uint8).reshape(h, w, 4)
    assert (rgba[..., 3] == 255).all()
    return rgba[..., :3].copy()


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path
