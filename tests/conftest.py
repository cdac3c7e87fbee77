"""Shared pytest fixtures.

NVIDIA-made reference files live outside the repo in ../shared/fixtures (never copied here); tests that
need them use the `fixtures_dir` fixture, which skips when the folder is absent so a fresh clone still
tests itself with networks built by our own code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES_DIR = Path(os.environ.get("SG3_FIXTURES", REPO_ROOT.parent / "shared" / "fixtures"))


def has_fixtures() -> bool:
    return (FIXTURES_DIR / "cases.json").is_file()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `gpu` skip by themselves without CUDA, so the marker alone says it (no skipif beside it)."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="marked gpu: needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def cpu_kernels_built_once():
    """Build (or load) the CPU kernels once, before the first test. Every op on a CPU tensor outside autograd
    then runs on them, as in the app; the first build (about 30 s on 2 cores) lands in the usual cache, not
    in a folder some test points SG3_EXPLORER_CACHE at, and never inside a test with a short timeout."""
    try:
        from sg3_explorer.ops.cuda import cpu

        cpu.kernels()
    except Exception:  # noqa: BLE001 - no kernels: the reference ops run, and the CPU-kernel tests skip
        pass
    yield


@pytest.fixture()
def no_cpu_kernels(monkeypatch):
    """The dispatch as on a machine without a C++ compiler: CPU tensors take the reference ops."""
    from stylegan3.ops import backend

    monkeypatch.setattr(backend, "_cpu_module", lambda: None)
    yield


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not has_fixtures():
        pytest.skip(f"reference fixtures not found at {FIXTURES_DIR}")
    return FIXTURES_DIR


@pytest.fixture(scope="session")
def fixture_cases(fixtures_dir: Path) -> list[dict]:
    return json.loads((fixtures_dir / "cases.json").read_text())


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and figures for people to look at (git-ignored)."""
    path = REPO_ROOT / "tests" / "_artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def display():
    """A virtual X display (Xvfb + Mesa) for the GUI tests of one module; skips when Xvfb is missing."""
    from tests.support.gui import xvfb

    with xvfb() as d:
        yield d


@pytest.fixture()
def app_env(tmp_path, monkeypatch, display, artifacts_dir):
    """A display and a private settings folder: a GUI test never reads or writes the user's settings."""
    monkeypatch.setenv("SG3_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


@pytest.fixture
def fresh_cuda_state():
    """Forget the CUDA kernels' cached build result and reason before and after a test that probes them."""
    import sg3_explorer.ops.cuda as cuda_ops

    cuda_ops.reset()
    yield
    cuda_ops.reset()
