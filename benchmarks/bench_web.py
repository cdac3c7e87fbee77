"""The web page on loopback, measured in the browser: frame-to-frame time at 256^2 and 1024^2, JPEG q90, PNG, raw.

The renderer is `bench_remote`'s cheap stand-in network (a photo-like picture shifted by the seed, a few ms
per frame), so the numbers are the transport's: request JSON over the WebSocket, encode, the bytes back,
the browser's decode (raw: RGB bytes put into a canvas) and the swap of the shown image. The page drives
itself (`sg3.runBench`: each frame shown sends the next seed) in Debian's headless chromium, as a person
holding the "next seed" key would;
`bench_remote` measures the same for `gui --connect` (pyzmq, raw / PNG / JPEG) on the same machine.

    PYTHONPATH=. python3 -m benchmarks.bench_web                    # 256 and 1024, 40 frames each
    PYTHONPATH=. python3 -m benchmarks.bench_web --sizes 1024 --frames 60 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import torch

from benchmarks.bench_remote import ToyGenerator

MODES = (("raw", True, 90, "raw"), ("png", True, 90, "png"), ("jpeg q90", False, 90, "png"))


def measure(res: int, frames: int) -> list[dict]:
    from sg3_explorer.web.server import BackgroundServer, WebConfig, WebServer
    from stylegan3.service.thread_backend import ThreadBackend
    from tests.support.browser import browser_or_skip, wait_for

    backend = ThreadBackend("cpu", loader=lambda ref, device: ToyGenerator(res).to(device).eval())
    server = BackgroundServer(WebServer(WebConfig(port=0, networks=["demo"]), backend=backend))
    driver = browser_or_skip()
    rows = []
    try:
        driver.set_script_timeout(900)  # a slow mode (PNG at 1024^2 on a busy CPU) takes minutes
        driver.get(server.url)
        wait_for(lambda: driver.execute_script("return window.sg3.frames") >= 1, 120, "the first frame")
        for label, lossless, quality, lossless_format in MODES:
            driver.execute_async_script(  # warm-up: decoder, allocations
                "const done = arguments[arguments.length - 1]; window.sg3.runBench(5, arguments[0], arguments[1], "
                "arguments[2]).then(done);",
                lossless,
                quality,
                lossless_format,
            )
            times = driver.execute_async_script(
                "const done = arguments[arguments.length - 1]; window.sg3.runBench(arguments[2], arguments[0], "
                "arguments[1], arguments[3]).then(done);",
                lossless,
                quality,
                frames,
                lossless_format,
            )
            print(f"{res} {label}: median {statistics.median(times):.1f} ms", file=sys.stderr, flush=True)
            header = driver.execute_script("return window.sg3.shown.a.header")
            decode = driver.execute_script("return window.sg3.shown.a.decode_ms")
            rows.append(
                dict(
                    size=res,
                    transport=f"web {label}",
                    frame_ms=statistics.median(times),
                    p90_ms=sorted(times)[int(0.9 * (len(times) - 1))],
                    fps=1000 / statistics.median(times),
                    bytes=header["bytes"],
                    encode_ms=header["encode_ms"],
                    decode_ms=decode,
                    render_ms=header["render_ms"],
                )
            )
    finally:
        driver.quit()
        server.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,1024")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    rows = [row for res in (int(s) for s in args.sizes.split(",")) for row in measure(res, args.frames)]
    load_after = os.getloadavg()
    print(
        f"web page on loopback in headless chromium, {args.frames} frames per row, {os.cpu_count()} CPUs, "
        f"load average {load_before[0]:.1f} before / {load_after[0]:.1f} after"
    )
    head = (
        f"{'size':>5} {'transport':<13} {'frame ms':>8} {'p90 ms':>7} {'frames/s':>8} {'render':>7} "
        f"{'encode':>7} {'decode':>7} {'KiB/frame':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['size']:>5} {r['transport']:<13} {r['frame_ms']:>8.1f} {r['p90_ms']:>7.1f} {r['fps']:>8.1f} "
            f"{r['render_ms']:>7.1f} {r['encode_ms']:>7.1f} {r['decode_ms']:>7.1f} {r['bytes'] / 1024:>9.0f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(rows=rows, load=[load_before, load_after]), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
