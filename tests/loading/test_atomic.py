"""Atomic writes (convert output, demo cache) leave files with the umask's mode and nothing behind on failure."""

from __future__ import annotations

import os

import pytest
import torch

from stylegan3.documents.atomic import replace_atomically


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_replace_atomically_respects_umask(tmp_path, umask_022):
    target = tmp_path / "out.bin"
    with replace_atomically(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.stat().st_mode & 0o777 == 0o644
        tmp.write_bytes(b"new")
        os.chmod(tmp, 0o600)  # what a writer that makes its own private file (safetensors) leaves
        assert not target.exists()  # nothing at the target until the block succeeded
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o644
    os.umask(0o077)
    with replace_atomically(target) as tmp:
        tmp.write_bytes(b"private")
    assert target.stat().st_mode & 0o777 == 0o600  # a stricter umask is honoured too


def test_replace_atomically_keeps_target_on_failure(tmp_path, umask_022):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), replace_atomically(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer failed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_demo_cache_file_is_readable_by_others(tmp_path, monkeypatch, umask_022):
    from stylegan3.loading import demo

    monkeypatch.setenv("SG3_EXPLORER_CACHE", str(tmp_path))
    state = {"w": torch.arange(4.0)}
    monkeypatch.setattr(demo, "_construct", lambda kind: state)  # the calibration itself is not under test
    assert demo._build.__wrapped__("sg2") is state
    (cached,) = (tmp_path / "demo").iterdir()
    assert cached.suffix == ".safetensors" and cached.stat().st_mode & 0o777 == 0o644
