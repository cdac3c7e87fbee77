"""Out of memory while loading, rendering, analysing or recording: a message with a suggestion, and the app goes on."""

from __future__ import annotations

import time

import pytest
import torch

from sg3_explorer.visualizer.backend_renderer import BackendRenderer, FrameChannels
from sg3_explorer.visualizer.jobs import Job
from sg3_explorer.visualizer.loader import NetworkLoader
from stylegan3.documents.request import RenderRequest
from stylegan3.render.memory import SUGGESTION, gpu_memory_line, is_out_of_memory, out_of_memory_message
from stylegan3.service.thread_backend import ThreadBackend

CUDA_OOM = torch.cuda.OutOfMemoryError(
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.11 GiB of which 1.2 GiB is free."
)
CPU_OOM = RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
                       "you tried to allocate 3221225472 bytes.")


def test_out_of_memory_is_recognised_and_explained():
    assert is_out_of_memory(CUDA_OOM) and is_out_of_memory(CPU_OOM) and is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch")) and not is_out_of_memory(ValueError("out of memory"))
    assert out_of_memory_message(CUDA_OOM, "rendering") == \
        f"out of GPU memory while rendering (tried to allocate 2.00 GiB): {SUGGESTION}"
    assert out_of_memory_message(CPU_OOM, "loading the network") == \
        f"out of memory while loading the network (tried to allocate 3.0 GiB): {SUGGESTION}"
    assert "fp16" in SUGGESTION and "smaller batch" in SUGGESTION and "fewer panes" in SUGGESTION
    assert gpu_memory_line("cpu") is None


@pytest.fixture()
def sg2():
    from stylegan3.loading.demo import demo_network

    return demo_network("sg2").eval().requires_grad_(False)


@pytest.mark.parametrize("exc", [CUDA_OOM, CPU_OOM], ids=["cuda", "cpu"])
def test_render_out_of_memory_keeps_the_worker_running(sg2, monkeypatch, exc):
    real = sg2.synthesis.forward

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(sg2.synthesis, "forward", fail)
    backend = ThreadBackend("cpu", loader=lambda ref, device: sg2)
    renderer = BackendRenderer(FrameChannels(backend))
    try:
        renderer.set_network("sg2", 1)
        renderer.submit(RenderRequest())
        res = _frame(renderer)
        assert res.image is None and res.error.startswith("out of ") and "while rendering" in res.error
        assert res.error.endswith(SUGGESTION)
        monkeypatch.setattr(sg2.synthesis, "forward", real)  # memory freed (smaller batch, fp16...): it renders
        renderer.submit(RenderRequest().edit("latent", x=3.0))
        res = _frame(renderer)
        assert res.error is None and res.image.shape == (sg2.img_resolution, sg2.img_resolution, 3)
    finally:
        backend.close()


def _frame(renderer: BackendRenderer, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        res = renderer.poll()
        if res is not None:
            return res
        time.sleep(0.01)
    raise AssertionError("no frame")


def test_analysis_and_recording_jobs_stop_with_the_message():
    def analysis(progress):
        progress(1, 4)
        raise CUDA_OOM

    job = Job(analysis, "job-spectra")
    assert job.wait(30) and job.result is None
    assert job.error == f"out of GPU memory while computing spectra (tried to allocate 2.00 GiB): {SUGGESTION}"
    rec = Job(lambda progress: (_ for _ in ()).throw(CPU_OOM), "record")
    assert rec.wait(30) and rec.error.startswith("out of memory while recording the comparison video")


def test_loading_out_of_memory_is_a_status_line_and_the_next_load_works(sg2):
    calls = []

    def load_fn(ref, device):
        calls.append(ref.source)
        if ref.source == "huge":
            raise CUDA_OOM
        return sg2

    backend = ThreadBackend("cpu", loader=load_fn)
    loader = NetworkLoader(backend)
    loader.load("huge")
    assert loader.wait(30)
    assert loader.status.error.startswith("out of GPU memory while loading the network") and loader.poll() is None
    loader.load("small")
    assert loader.wait(30) and loader.status.error is None and loader.poll().info.kind == "SG2"
    backend.close()


def test_cli_out_of_memory_is_one_line(monkeypatch, capsys, tmp_path):
    from stylegan3.cli.main import main
    from stylegan3.render import pipeline

    def fail(*args, **kwargs):
        raise CUDA_OOM

    monkeypatch.setattr(pipeline, "render_tensor", fail)
    assert main(["render", "--network", "demo-sg2", "--device", "cpu", "--outdir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: seed 0: out of GPU memory while rendering (tried to allocate 2.00 GiB): {SUGGESTION}"
