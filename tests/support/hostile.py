"""Helpers shared by the hostile-file tests (official, TF and TF-lineage pickles).

Every loader promises the same contract for a bad file (one line, naming the file, nothing from it runs), so the
payload, the contract check and the variable surgery live here once instead of in each test module.
"""

from __future__ import annotations

import pytest

from stylegan3.errors import NetworkLoadError
from stylegan3.loading import load_network


class Reduce:
    """Pickles as a call to `func(*args)`: the classic code-execution payload."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def load_error(path, error_type=NetworkLoadError, **kwargs) -> str:
    """Load `path`, expect `error_type`, check the one-line contract and return the message."""
    with pytest.raises(error_type) as info:
        load_network(path, device="cpu", **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def write_file(tmp_path, name: str, data: bytes):
    """Write `data` as `tmp_path / name` and return the path, so a test can hand a file name to the loader."""
    path = tmp_path / name
    path.write_bytes(data)
    return path


def set_variable(state: dict, name: str, value) -> None:
    """Replace (or, with None, delete) one variable of a fake TF network state, keeping the list-of-pairs layout."""
    variables = dict(state["variables"])
    if value is None:
        del variables[name]
    else:
        variables[name] = value
    state["variables"] = list(variables.items())
