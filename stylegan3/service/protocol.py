"""The render service's messages (pyzmq ROUTER/DEALER), their size limits and their validation.

A request is one zmq frame of UTF-8 JSON: {"v": 1, "op": ..., "id": int, "token": str | null, ...}.
A reply is the JSON header frame, plus one payload frame for a rendered image:
  {"ok": true, "id": ..., ...} or {"ok": false, "id": ..., "code": ..., "error": "one line"}.
Ops: hello, ping, load {network}, render {request, format, quality}, cancel [{of: id}], analyze {name, request,
params[, attachment: nbytes]} (progress replies {"ok": true, "id", "progress": [done, total]} until the one with
"result", whose numeric arrays travel in one payload frame: `stylegan3.service.arrays`), ack {of: id, seq}.

Streamed partial results: an analysis that streams (a projection's steps) sends {"ok": true, "id", "partial":
data, "seq": n} (+ its arrays' payload frame) before its result. The client acknowledges each one it has handed
to its caller ({"op": "ack", "of": id, "seq": n}, no reply); the server keeps at most `STREAM_WINDOW`
unacknowledged, so a slow link or a slow caller slows the analysis down instead of filling queues (libzmq
would silently drop messages past its high-water mark).

Attachments: an analyze request may carry one binary frame after its JSON (a projection's target PNG), its
size declared in "attachment" and at most `MAX_ATTACHMENT_BYTES`.
Anything else (not JSON, not an object, unknown op, wrong types, more than one frame, too large) gets an
error reply naming the problem; libzmq itself drops a peer whose message exceeds `MAX_SOCKET_MESSAGE` or who
does not speak ZMTP (garbage bytes, a forged length prefix) without disturbing other clients.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stylegan3.documents.request import NetworkRef, RenderRequest, RequestError, from_dict
from stylegan3.errors import SG3Error

PROTOCOL_VERSION = 1
MAX_REQUEST_BYTES = 768 * 1024  # a request is ~1 KiB of JSON; one with a 16x512 W+ latent ~200 KiB
MAX_ATTACHMENT_BYTES = 12 * 1024 * 1024  # a 1024^2 RGB target is at most ~3 MiB as PNG; a 2048^2 one ~12 MiB
MAX_SOCKET_MESSAGE = MAX_ATTACHMENT_BYTES + 64 * 1024  # server socket, per frame: larger make libzmq drop the peer
MAX_REPLY_MESSAGE = 256 * 1024 * 1024  # client socket: an 8192^2 raw frame is 192 MiB
OPS = ("hello", "ping", "load", "render", "cancel", "analyze", "ack")
STREAM_WINDOW = 4  # partial results in flight per analysis before the server waits for an ack
DEFAULT_PORT = 5557


class ProtocolError(SG3Error):
    def __init__(self, message: str, code: str = "bad-request", msg_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.msg_id = msg_id


@dataclass(frozen=True)
class Message:
    op: str
    id: int
    token: str | None
    body: dict[str, Any]
    attachment: bytes | None = None  # the binary frame of an analyze request


def encode_request(op: str, msg_id: int, token: str | None = None, **body: Any) -> bytes:
    return json.dumps({"v": PROTOCOL_VERSION, "op": op, "id": msg_id, "token": token, **body}).encode()


def parse_request(frames: list[bytes]) -> Message:
    """Validate one client message; ProtocolError (with the id when it could be read) otherwise."""
    if not 1 <= len(frames) <= 2:
        raise ProtocolError(f"expected one message frame (two with an attachment), got {len(frames)}")
    raw = frames[0]
    if len(raw) > MAX_REQUEST_BYTES:
        raise ProtocolError(f"message too large ({len(raw)} bytes, limit {MAX_REQUEST_BYTES})", "too-large")
    try:
        data = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("message is not UTF-8 JSON (truncated or not an sg3-explorer client?)") from None
    if not isinstance(data, dict):
        raise ProtocolError("message is not a JSON object")
    msg_id = data.get("id")
    if isinstance(msg_id, bool) or not isinstance(msg_id, int):
        raise ProtocolError("message has no integer 'id'")
    if data.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {data.get('v')!r} not supported (server speaks "
                            f"{PROTOCOL_VERSION})", "version", msg_id)
    op = data.get("op")
    if op not in OPS:
        raise ProtocolError(f"unknown op {op!r} (expected one of {', '.join(OPS)})", msg_id=msg_id)
    token = data.get("token")
    if token is not None and not isinstance(token, str):
        raise ProtocolError("'token' must be a string", msg_id=msg_id)
    body = {k: v for k, v in data.items() if k not in ("v", "op", "id", "token")}
    declared = body.get("attachment")
    if declared is None and len(frames) == 1:
        return Message(op, msg_id, token, body)
    if op != "analyze":
        raise ProtocolError(f"op {op!r} takes no attachment", msg_id=msg_id)
    if isinstance(declared, bool) or not isinstance(declared, int) or len(frames) != 2:
        raise ProtocolError("an attachment needs its frame and its size as the integer 'attachment'", msg_id=msg_id)
    data_frame = frames[1]
    if len(data_frame) > MAX_ATTACHMENT_BYTES:
        raise ProtocolError(f"attachment too large ({len(data_frame)} bytes, limit {MAX_ATTACHMENT_BYTES})",
                            "too-large", msg_id)
    if len(data_frame) != declared:
        raise ProtocolError(f"attachment of {len(data_frame)} bytes, {declared} declared", msg_id=msg_id)
    return Message(op, msg_id, token, body, bytes(data_frame))


def network_of(msg: Message) -> NetworkRef:
    data = msg.body.get("network")
    if not isinstance(data, dict) or set(data) != {"source", "key"}:
        raise ProtocolError("'network' must be an object with 'source' and 'key'", msg_id=msg.id)
    try:
        return NetworkRef(**data)
    except RequestError as exc:
        raise ProtocolError(str(exc), msg_id=msg.id) from None


def render_args(msg: Message) -> tuple[RenderRequest, str, int]:
    try:
        request = from_dict(msg.body.get("request"))
    except RequestError as exc:
        raise ProtocolError(str(exc), msg_id=msg.id) from None
    fmt = msg.body.get("format", "raw")
    quality = msg.body.get("quality", 90)
    if fmt not in ("raw", "png", "jpeg"):
        raise ProtocolError(f"unknown frame format {fmt!r}", msg_id=msg.id)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ProtocolError("'quality' must be an integer 1..100", msg_id=msg.id)
    return request, fmt, quality


def reply(msg_id: int | None, **body: Any) -> bytes:
    return json.dumps({"ok": True, "id": msg_id, **body}, allow_nan=False).encode()


def error_reply(msg_id: int | None, code: str, message: str) -> bytes:
    return json.dumps({"ok": False, "id": msg_id, "code": code, "error": message}).encode()


def parse_reply(frames: list[bytes]) -> tuple[dict[str, Any], bytes | None]:
    """(header, payload or None) from a server reply; ProtocolError for anything malformed."""
    if not 1 <= len(frames) <= 2:
        raise ProtocolError(f"reply has {len(frames)} frames")
    if len(frames[0]) > MAX_REQUEST_BYTES * 4:
        raise ProtocolError("reply header too large")
    try:
        header = json.loads(bytes(frames[0]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("reply is not JSON") from None
    if not isinstance(header, dict) or not isinstance(header.get("ok"), bool):
        raise ProtocolError("reply is not a status object")
    return header, (frames[1] if len(frames) == 2 else None)


def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """'HOST:PORT', ':PORT', 'PORT' or 'HOST' -> (host, port); IPv6 as '[::1]:5557'."""
    text = text.strip()
    host, port = default_host, DEFAULT_PORT
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SG3Error(f"bad address {text!r} (expected HOST:PORT)")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise SG3Error(f"bad address {text!r} (expected HOST:PORT)")
            port = _port(rest[1:], text)
    elif text.isdigit():
        port = _port(text, text)
    elif ":" in text:
        h, p = text.rsplit(":", 1)
        host = h or default_host
        port = _port(p, text)
    elif text:
        host = text
    return host, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise SG3Error(f"bad port in {whole!r} (expected HOST:PORT with PORT 0..65535)")
    return int(text)


def endpoint(host: str, port: int) -> str:
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
