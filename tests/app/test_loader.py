"""Loading through a backend: the app gets a LoadedNetwork (no module, the full info); refusals become the loader's
one-line error."""

from __future__ import annotations

from sg3_explorer.visualizer.loader import NetworkLoader
from stylegan3.service.client import RemoteBackend
from tests.support.nets import write_tiny_nets
from tests.support.service import running_server


def test_remote_loader(tmp_path):
    nets = write_tiny_nets(tmp_path / "nets", res=16)
    with running_server([str(tmp_path / "nets")]) as server, RemoteBackend(server.address) as backend:
        loader = NetworkLoader(backend)
        loader.load(str(nets["SG3-R"]))
        assert loader.wait(60)
        loaded = loader.poll()
        assert loaded is not None and not hasattr(loaded, "G") and loader.poll() is None
        assert loaded.info.kind == "SG3-R" and loaded.info.resolution == 16
        assert loaded.info.capabilities.input_transform and loaded.info.num_layers == len(loaded.info.layers) > 0
        assert server.address in loaded.ops
        loader.load("/etc/passwd")
        assert loader.wait(60)
        assert loader.poll() is None
        assert loader.status.error.startswith("refused: /etc/passwd: outside the folders")
