"""Fixtures shared by the ops tests."""

from __future__ import annotations

import pytest

from stylegan3.ops import backend, selfcheck


@pytest.fixture()
def clean_selfcheck_state():
    """No self-check verdict and no switched-off op before or after the test (the module state is process-wide)."""
    selfcheck.reset()
    backend.enable_all()
    yield
    selfcheck.reset()
    backend.enable_all()
