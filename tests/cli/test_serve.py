"""`sg3-explorer serve`: a token for any non-loopback bind (generated and printed), none needed on 127.0.0.1,
bad --allow / --listen values are one-line errors. The server class is replaced: nothing binds here."""

from __future__ import annotations

import pytest


class FakeServer:
    made: list[dict] = []

    def __init__(self, host, port, allow, token=None, device=None):
        FakeServer.made.append(dict(host=host, port=port, allow=allow, token=token))
        self.port = port
        self.address = f"tcp://{host}:{port}"

        class Owner:
            device = "cpu"

        self.owner = Owner()

    def serve_forever(self):
        return None


@pytest.fixture()
def fake(monkeypatch):
    import stylegan3.service.server as server

    FakeServer.made.clear()
    monkeypatch.setattr(server, "RenderServer", FakeServer)
    monkeypatch.delenv("SG3_EXPLORER_TOKEN", raising=False)
    return FakeServer.made


def test_tokens(fake, capsys, tmp_path, monkeypatch):
    from stylegan3.cli.main import main

    assert main(["serve", "--listen", "0.0.0.0:6001", "--allow", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    token = fake[-1]["token"]
    assert token and len(token) >= 24 and f"token (generated): {token}" in out
    assert f"--token {token}" in out and "listening on tcp://0.0.0.0:6001" in out
    assert f"allowed: {tmp_path.resolve()}/, demo networks" in out

    assert main(["serve"]) == 0  # loopback: no token unless asked for
    assert fake[-1]["token"] is None and (fake[-1]["host"], fake[-1]["port"]) == ("127.0.0.1", 5557)
    assert "token" not in capsys.readouterr().out.split("connect:")[0]
    monkeypatch.setenv("SG3_EXPLORER_TOKEN", "from-env")
    assert main(["serve", "--listen", "[::]:7000"]) == 0
    assert fake[-1]["token"] == "from-env" and fake[-1]["host"] == "::"


def test_bad_arguments_are_one_line(fake, capsys):
    from stylegan3.cli.main import main

    assert main(["serve", "--allow", "/no/such/dir"]) == 1
    assert "error: --allow /no/such/dir: not a folder, file, http(s) URL prefix or catalog name" in \
        capsys.readouterr().err
    assert main(["serve", "--listen", "host:99999"]) == 1
    assert "bad port" in capsys.readouterr().err
    assert not fake
