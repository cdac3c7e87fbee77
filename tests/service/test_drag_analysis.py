"""The `drag` analysis on the thread backend and over a loopback server: every step streamed back in order and
equal to the library's, `drag --connect` writing the same files as a local run, and bad points, masks and
networks answered with one line. Tiny nets of our own (16 px) keep each test to seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan3.cli.main import main
from stylegan3.documents.request import Latent, NetworkRef, RenderRequest
from stylegan3.service import analyses
from stylegan3.service.backend import BackendError
from stylegan3.service.client import RemoteBackend
from stylegan3.service.thread_backend import ThreadBackend
from tests.support.service import running_server

POINTS = [(5.0, 8.0, 10.0, 8.0), (11.0, 4.0, 11.0, 9.0)]


@pytest.fixture(scope="module")
def server(nets):
    with running_server([str(Path(nets["SG2"]).parent)]) as srv:
        yield srv


def _mask(res: int = 16) -> np.ndarray:
    mask = np.zeros([res, res], dtype=np.float32)
    mask[2:14, 2:14] = 1
    return mask


def _library_steps(source, mask, sg3: bool):
    import stylegan3
    from stylegan3.explore.drag import drag
    from stylegan3.render.inputs import input_transform, request_ws

    G = stylegan3.load_network(str(source), device="cpu").eval().requires_grad_(False)
    request = RenderRequest(network=NetworkRef(str(source)), latent=Latent(4.0))
    ws = request_ws(G, request, torch.device("cpu"))
    return list(
        drag(
            G,
            ws,
            [p[:2] for p in POINTS],
            [p[2:] for p in POINTS],
            mask=mask,
            steps=4,
            lr=0.02,
            transform=input_transform(request) if sg3 else None,
        )
    )


@pytest.mark.parametrize("kind", ["SG3-T", "SG2"])
def test_drag_streams_every_step_and_ends_where_the_library_ends(nets, server, kind):
    from stylegan3.render.images import to_numpy_rgb

    source = nets[kind]
    want = _library_steps(source, _mask(), kind.startswith("SG3"))
    request = RenderRequest(network=NetworkRef(str(source)), latent=Latent(4.0))
    with ThreadBackend("cpu") as thread, RemoteBackend(server.address) as remote:
        for backend in (thread, remote):
            seen = []
            result = analyses.run_drag(backend, request, POINTS, _mask(), 4, on_step=seen.append, lr=0.02)
            assert [s.step for s in seen] == [s.step for s in want]
            for got, ref in zip(seen, want, strict=True):
                assert got.points == ref.points and got.loss == pytest.approx(ref.loss, rel=1e-5)
                assert np.array_equal(to_numpy_rgb(got.image), to_numpy_rgb(ref.image))
                assert torch.equal(got.ws, ref.ws)
            last = result.step
            assert last.done and torch.equal(last.ws, want[-1].ws) and torch.equal(last.image, want[-1].image)
            assert last.points == want[-1].points and len(result.network) == 16


def test_bad_params_and_masks_are_one_line_refusals(nets, server):
    from stylegan3.analyses.drag import encode_mask

    request = RenderRequest(network=NetworkRef(str(nets["SG2"])))
    with RemoteBackend(server.address) as remote:
        with pytest.raises(BackendError, match=r"point 1: handle \(30, 8\) is outside the 16x16 image"):
            analyses.run_drag(remote, request, [(30.0, 8.0, 3.0, 3.0)], None, 2)
        with pytest.raises(BackendError, match="drag: the mask is not a PNG image"):
            remote.analyze(
                "drag", request, params={"points": [POINTS[0]]}, attachment=b"GIF89a" + b"\0" * 50, timeout=30
            )
        with pytest.raises(BackendError, match="drag: mask of 8x8 pixels, the network draws 16x16"):
            remote.analyze("drag", request, params={"points": [POINTS[0]]}, attachment=encode_mask(None, 8), timeout=30)
        with pytest.raises(BackendError, match="the mask is empty"):
            analyses.run_drag(remote, request, [POINTS[0]], np.zeros([16, 16]), 2)
        with pytest.raises(BackendError, match="steps must be in 1..100000"):
            remote.analyze(
                "drag",
                request,
                params={"points": [POINTS[0]], "steps": 0},
                attachment=encode_mask(None, 16),
                timeout=30,
            )
        assert len(analyses.run_drag(remote, request, [POINTS[0]], None, 1).step.points) == 1  # still serving


def _drag_args(nets, tmp_path) -> list[str]:
    from PIL import Image

    Image.fromarray((_mask() * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    return [
        "drag",
        "--network",
        str(nets["SG3-T"]),
        "--seed",
        "4",
        "--point",
        "5,8:10,8",
        "--point",
        "11,4:11,9",
        "--mask",
        str(tmp_path / "mask.png"),
        "--steps",
        "4",
        "--lr",
        "0.02",
        "--mask-weight",
        "3",
    ]


def test_drag_connect_writes_the_same_files(nets, server, tmp_path, capsys):
    args = _drag_args(nets, tmp_path)
    assert main([*args, "--device", "cpu", "--outdir", str(tmp_path / "a")]) == 0
    local_out = capsys.readouterr().out
    assert main([*args, "--connect", server.address.removeprefix("tcp://"), "--outdir", str(tmp_path / "b")]) == 0
    remote_out = capsys.readouterr().out
    for name in ("drag.png", "drag_start.png", "drag_path.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    a, b = np.load(tmp_path / "a" / "drag_w.npz"), np.load(tmp_path / "b" / "drag_w.npz")
    assert np.array_equal(a["ws"], b["ws"]) and str(a["meta"]) == str(b["meta"])
    assert local_out.replace("/a/", "/X/") == remote_out.replace("/b/", "/X/")
    path = json.loads((tmp_path / "a" / "drag_path.json").read_text())
    assert path["handles"] == [[5, 8], [11, 4]] and path["targets"] == [[10, 8], [11, 9]]
    assert [s["step"] for s in path["steps"]] == list(range(len(path["steps"])))
    assert path["steps"][0]["points"] == [[5, 8], [11, 4]]
    from stylegan3.explore.projection import load_projection

    ws, meta = load_projection(tmp_path / "a" / "drag_w.npz")
    assert ws.shape[0] == 1 and meta["kind"] == "drag" and meta["points"] == [[5, 8, 10, 8], [11, 4, 11, 9]]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--point", "40,8:3,3"], "error: point 1: handle (40, 8) is outside the 16x16 image (x and y in 0..15)"),
        (["--point", "4,8:3"], "expected a point pair 'X,Y:TX,TY'"),
        (["--point", "4,8:3,3", "--mask", "MISSING"], "no such mask file"),
        (["--point", "4,8:3,3", "--mask", "SMALL"], "mask of 8x8 pixels, the network draws 16x16"),
        (["--point", "4,8:3,3", "--mask", "BLACK"], "the mask is black everywhere"),
    ],
)
def test_drag_command_errors_are_one_line(nets, tmp_path, capsys, extra, message):
    from PIL import Image

    Image.new("L", (8, 8), 255).save(tmp_path / "small.png")
    Image.new("L", (16, 16), 0).save(tmp_path / "black.png")
    names = {"MISSING": tmp_path / "none.png", "SMALL": tmp_path / "small.png", "BLACK": tmp_path / "black.png"}
    extra = [str(names.get(e, e)) for e in extra]
    code = main(["drag", "--network", str(nets["SG2"]), "--device", "cpu", "--outdir", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and message in err[0] and "Traceback" not in err[0]
