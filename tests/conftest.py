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
