"""Render service pieces without sockets: allow-list, message validation, frame codecs, addresses."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from stylegan3.documents.request import RenderRequest, to_dict
from stylegan3.errors import SG3Error
from stylegan3.service import codec, protocol
from stylegan3.service.policy import AllowList, SourceRefused


@pytest.fixture()
def tree(tmp_path):
    nets = tmp_path / "nets"
    (nets / "sub").mkdir(parents=True)
    (nets / "a.pkl").write_bytes(b"x")
    (nets / "sub" / "b.safetensors").write_bytes(b"x")
    secret = tmp_path / "secret.pkl"
    secret.write_bytes(b"x")
    os.symlink(secret, nets / "link.pkl")
    os.symlink(tmp_path, nets / "up")
    return tmp_path, nets


def test_allow_list_paths(tree):
    root, nets = tree
    allow = AllowList.parse([str(nets)])
    assert allow.check(str(nets / "a.pkl")) == str((nets / "a.pkl").resolve())
    assert allow.check("sub/b.safetensors") == str((nets / "sub" / "b.safetensors").resolve())  # relative
    assert allow.check("demo-sg2") == "demo-sg2"  # reads no file
    refusals = {
        "/etc/passwd": "outside the folders this server allows",
        str(nets / ".." / "secret.pkl"): "paths with '..' are refused",
        "../secret.pkl": "paths with '..' are refused",
        str(nets / "link.pkl"): "outside the folders this server allows (server --allow) (a symlink leads out)",
        "up/secret.pkl": "outside the folders",
        str(nets / "missing.pkl"): "no such file in the allowed folders",
        str(nets / "sub"): "not a file",
        "stylegan3-t-ffhq-1024x1024.pkl": "catalog name not allowed",
        "https://example.com/x.pkl": "URL not under an allowed prefix",
        "a\x00b": "not a valid network source",
    }
    for source, why in refusals.items():
        with pytest.raises(SourceRefused, match=None) as err:
            allow.check(source)
        assert why in str(err.value), (source, str(err.value))


def test_allow_list_urls_catalog_and_bad_entries(tree):
    _, nets = tree
    allow = AllowList.parse(["https://example.com/nets/", "stylegan3-r-afhqv2-512x512"])
    assert allow.check("https://example.com/nets/x.pkl") == "https://example.com/nets/x.pkl"
    assert allow.check("stylegan3-r-afhqv2-512x512.pkl") == "stylegan3-r-afhqv2-512x512"
    for bad, why in [("https://example.com/nets/../evil.pkl", "'..'"),
                     ("https://example.com/nets/%2e%2e/evil.pkl", "'..'"),
                     ("https://user:pw@example.com/nets/x.pkl", "user name"),
                     ("https://example.com/netsX/x.pkl", "not under an allowed prefix"),
                     ("stylegan3-t-ffhq-1024x1024", "catalog name not allowed"),
                     (str(nets / "a.pkl"), "outside the folders")]:
        with pytest.raises(SourceRefused) as err:
            allow.check(bad)
        assert why in str(err.value)
    assert AllowList.parse(["catalog"]).check("stylegan2-ffhq-1024x1024") == "stylegan2-ffhq-1024x1024"
    with pytest.raises(SG3Error, match="not a folder, file, http"):
        AllowList.parse(["/no/such/folder"])
    with pytest.raises(SG3Error, match="segments are refused"):
        AllowList.parse(["https://a/../"])


def _msg(**fields) -> bytes:
    return json.dumps({"v": 1, "op": "ping", "id": 1, "token": None, **fields}).encode()


@pytest.mark.parametrize(("frames", "code", "message"), [
    ([b"\x00\xff garbage"], "bad-request", "message is not UTF-8 JSON"),
    ([_msg()[:-3]], "bad-request", "message is not UTF-8 JSON (truncated"),
    ([b"[1,2]"], "bad-request", "message is not a JSON object"),
    ([_msg(), b"x", b"y"], "bad-request", "expected one message frame (two with an attachment), got 3"),
    ([_msg(), b"x"], "bad-request", "op 'ping' takes no attachment"),
    ([_msg(op="analyze", attachment=2), b"x"], "bad-request", "attachment of 1 bytes, 2 declared"),
    ([_msg(op="analyze", attachment=True), b"x"], "bad-request", "an attachment needs its frame"),
    ([_msg(op="analyze", attachment=1)], "bad-request", "an attachment needs its frame"),
    ([b" " * (protocol.MAX_REQUEST_BYTES + 1)], "too-large", "message too large (786433 bytes, limit 786432)"),
    ([_msg(id="7")], "bad-request", "message has no integer 'id'"),
    ([_msg(v=9)], "version", "protocol version 9 not supported"),
    ([_msg(op="exec")], "bad-request", "unknown op 'exec'"),
    ([_msg(token=5)], "bad-request", "'token' must be a string"),
])
def test_malformed_messages_are_named(frames, code, message):
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.parse_request(frames)
    assert err.value.code == code and str(err.value).startswith(message)


def test_render_arguments_are_validated():
    good = dict(request=to_dict(RenderRequest()), format="png", quality=80)
    msg = protocol.parse_request([_msg(op="render", **good)])
    assert protocol.render_args(msg) == (RenderRequest(), "png", 80)
    for change, why in [({"format": "gif"}, "unknown frame format"), ({"quality": 0}, "'quality'"),
                        ({"request": {"schema": 1}}, "RenderRequest: missing field 'network'")]:
        msg = protocol.parse_request([_msg(op="render", **dict(good, **change))])
        with pytest.raises(protocol.ProtocolError, match=why):
            protocol.render_args(msg)


def test_frame_codecs():
    rng = np.random.default_rng(0)
    img = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    for fmt in ("raw", "png"):
        payload, _ = codec.encode(img, fmt)
        back, _ = codec.decode(bytes(payload), fmt, img.shape)
        assert np.array_equal(back, img)
    smooth = np.repeat(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], 48, 0).repeat(3, 2)
    payload, _ = codec.encode(smooth, "jpeg", 95)
    back, _ = codec.decode(payload, "jpeg", smooth.shape)
    assert np.abs(back.astype(int) - smooth).mean() < 2 and len(payload) < smooth.size
    with pytest.raises(codec.FrameCodecError, match="raw frame has 10 bytes"):
        codec.decode(b"x" * 10, "raw", (48, 64, 3))
    with pytest.raises(codec.FrameCodecError, match="expected 32x48"):
        codec.decode(codec.encode(img, "png")[0], "png", (48, 32, 3))
    with pytest.raises(codec.FrameCodecError, match="could not be decoded"):
        codec.decode(b"\x89PNG garbage", "png", (48, 64, 3))
    with pytest.raises(codec.FrameCodecError, match="refused"):
        codec.decode(b"", "raw", (100000, 100000, 3))


def test_addresses():
    assert protocol.parse_address("gpu:6000") == ("gpu", 6000)
    assert protocol.parse_address("6000") == ("127.0.0.1", 6000)
    assert protocol.parse_address(":6000") == ("127.0.0.1", 6000)
    assert protocol.parse_address("[::1]:7") == ("::1", 7)
    assert protocol.endpoint("::1", 7) == "tcp://[::1]:7"
    assert protocol.is_loopback("127.0.0.1") and protocol.is_loopback("::1") and not protocol.is_loopback("0.0.0.0")
    with pytest.raises(SG3Error, match="bad port"):
        protocol.parse_address("host:99999")
