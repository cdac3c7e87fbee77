"""No code outside stylegan3/networks writes an SG3 network's input-transform buffer: the renderer, the
stages, analysis jobs, comparison jobs, traces and videos pass the transform to synthesis as an argument.

The buffer's in-place version counter would move with any write (`copy_`, `set_input_transform`), so each
use below checks it stays where it was, and that the transformed output still differs from the plain one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sg3_explorer.visualizer.renderer import render_image, timed_render
from stylegan3.documents.request import FFTView, LayerView, NetworkRef, RenderRequest, Transform, Untransform
from stylegan3.networks.info import describe
from stylegan3.render.pipeline import render_request
from tests.support.nets import tiny_net


@pytest.fixture()
def G():
    net = tiny_net("SG3-T", res=16)
    net.buf = net.synthesis.input.transform
    net.version0 = net.buf._version
    return net


def untouched(G) -> None:
    assert G.synthesis.input.transform is G.buf, "the buffer was replaced"
    assert G.buf._version == G.version0, "the input-transform buffer was written"
    assert torch.equal(G.buf, torch.eye(3))


def test_synthesis_takes_the_transform_as_an_argument(G):
    from stylegan3.networks.transform import make_transform

    ws = G.mapping(torch.randn(2, G.z_dim), None)
    m = torch.from_numpy(np.linalg.inv(make_transform((0.2, 0.1), 0.05))).float()
    moved = G.synthesis(ws, transform=m)
    untouched(G)
    # the same as writing the buffer, which is what official code and `G.synthesis(ws)` users do
    with torch.no_grad():
        G.synthesis.input.transform.copy_(m)
    want = G.synthesis(ws)
    G.synthesis.input.transform.copy_(torch.eye(3))
    assert torch.equal(moved, want) and not torch.equal(moved, G.synthesis(ws))
    per_sample = G.synthesis(ws, transform=torch.stack([m, torch.eye(3)]))  # one transform per sample
    assert torch.equal(per_sample[:1], moved[:1]) and torch.equal(per_sample[1:], G.synthesis(ws)[1:])


def test_renderers_and_stages_do_not_write_the_buffer(G):
    info = describe(G, "t")
    moved = RenderRequest(transform=Transform((0.25, -0.1), 0.05))
    plain = render_request(G, RenderRequest(), info).image
    for request in (moved, moved.replace(untransform=Untransform(True, "difference")),
                    moved.replace(layer=LayerView("output"), fft=FFTView(True))):
        out = render_request(G, request, info)
        assert out.error is None and not np.array_equal(out.image, plain)
    state = RenderRequest(transform=Transform(translate=(0.25, -0.1), rotate=0.05))
    assert not np.array_equal(render_image(G, state), render_image(G, RenderRequest()))
    timed_render(G, state.edit("untransform", enabled=True, view="difference"))
    untouched(G)


def test_analysis_does_not_write_the_buffer(G):
    from stylegan3.explore.interpolation import path_ws, transform_path
    from stylegan3.explore.video import VideoSpec, iter_video_frames
    from stylegan3.metrics.equivariance import estimate_equivariance
    from stylegan3.metrics.sticking import sticking_view
    from stylegan3.metrics.trace import record_trace

    est = estimate_equivariance(G, num_samples=2, metrics=("eqt", "eqr"), seed=0, bootstrap=10)
    assert len(est) == 2
    ws = path_ws(G, [0, 1], 3)
    trace = record_trace(G, ws, transforms=transform_path("pan:0.25,0", ws.shape[0], loop=False))
    assert trace.shape[0] == ws.shape[0]
    z = torch.randn(1, G.z_dim)
    moved = sticking_view(G, z, samples=2, batch_size=2, transform=(0.1, 0.0, 0.02))
    assert not torch.equal(moved.average, sticking_view(G, z, samples=2, batch_size=2).average)
    frames = list(iter_video_frames([("t", G)], VideoSpec(seeds=[0, 1], frames_per_seed=2, translate_path="spin:0.1")))
    assert len(frames) >= 2
    untouched(G)


def test_service_analyses_do_not_write_the_buffer(G):
    """The analyses a server runs next to the network (spectra, sticking, recording, metrics) on a moved view."""
    from stylegan3 import analyses as analysis

    info = describe(G, "t")
    moved = RenderRequest(transform=Transform((0.2, -0.1), 0.04))
    for name, params in (("eq_metrics", {}), ("spectra", {"layers": ["output", "L1_36_16"], "samples": 2}),
                         ("sticking", {"samples": 2, "batch_size": 2}), ("fingerprint", {}),
                         ("record", {"frames": 3, "count": 3, "path": "circle:0.1+spin:0.2", "format": "raw"})):
        result = analysis.run(name, G, moved, info, lambda d, t: None, params)
        assert result, name
    frames = analysis.run("record", G, moved, info, lambda d, t: None, {"frames": 3, "count": 3, "format": "raw"})
    still = analysis.run("record", G, RenderRequest(), info, lambda d, t: None, {"frames": 3, "count": 3,
                                                                                "format": "raw"})
    assert not np.array_equal(frames["frames"][0], still["frames"][0])  # the moved view really travelled
    untouched(G)


def test_app_jobs_do_not_write_the_buffer(G):
    from sg3_explorer.visualizer.network_jobs import equivariance_job, sticking_job, trace_job
    from stylegan3.service.thread_backend import ThreadBackend

    request = RenderRequest(network=NetworkRef("G"), transform=Transform(translate=(0.1, 0.2), rotate=0.03))
    progress = lambda *a: None  # noqa: E731
    with ThreadBackend("cpu", loader=lambda ref, device: G) as backend:
        for job in (equivariance_job(request), sticking_job(request, 2, 0.2), trace_job(request, 3, 0.5, "pan:0.1,0"),
                    trace_job(request, 3, 0.5, "")):
            job.run(backend, progress)
    untouched(G)


def test_no_module_outside_the_networks_writes_the_buffer():
    """A structural check next to the behavioural ones: no call that writes the buffer outside the networks
    (`stylegan3/networks/transform.py` keeps `set_input_transform` for library users, the networks' `set_transform`)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    writes = re.compile(r"set_input_transform\(|preserved_input_transform\(|input\.transform\.copy_|set_transform\(")
    offenders = []
    for folder in ("stylegan3", "visualizer", "widgets"):
        for path in (root / folder).rglob("*.py"):
            rel = path.relative_to(root).as_posix()
            if rel.startswith("stylegan3/networks/") or rel == "stylegan3/networks/transform.py":
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if writes.search(line.split("#")[0]) and not line.lstrip().startswith(("def ", '"""')):
                    offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
