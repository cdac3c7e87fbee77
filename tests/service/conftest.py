"""Fixtures every service test module needs: the tiny networks a server may load, and a server serving them.

`nets` is module-scoped as before (each module writes its own folder); `server` is per test, so a module that wants
one server for all its tests overrides it with a module-scoped fixture of the same name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.nets import write_tiny_nets
from tests.support.service import running_server


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    return write_tiny_nets(tmp_path_factory.mktemp("nets") / "allowed", res=16)


@pytest.fixture()
def server(nets):
    with running_server([str(Path(nets["SG2"]).parent)]) as srv:
        yield srv

