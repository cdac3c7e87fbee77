"""`ChildProcessBackend`: the renderer in a child process, so a crash, a CUDA error or running out of memory
costs a restart of the renderer, not the window.

The child is our own server (`python -m stylegan3.service.child`) bound to a random loopback port with a
random token, allowed to load anything (it is the user's own process; the safe loader still guards every
file). The parent talks to it as to any remote server; when the process exits it reports why (exit code or
signal, and the last line the child wrote to stderr), starts a new one and sends the unfinished request again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stylegan3.service.backend import BackendError
from stylegan3.service.client import RemoteBackend
from stylegan3.service.server import new_token

START_TIMEOUT_S = 120.0


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory? the system's OOM killer sends SIGKILL)" if -code == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    if code == 3:
        return "exited after a CUDA error"
    return f"exited with status {code}"


class ChildProcess:
    """One renderer process: started, waited for until it says where it listens, stopped."""

    def __init__(self, token: str, device: str | None = None, env: dict | None = None) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="sg3-renderer-", suffix=".log", delete=False)
        cmd = [sys.executable, "-m", "stylegan3.service.child"] + (["--device", device] if device else [])
        child_env = dict(os.environ if env is None else env, SG3_SERVICE_TOKEN=token, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL,
                                     env=child_env, text=True)
        self.address = self._read_address()

    def _read_address(self) -> str:
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                if sel.select(timeout=0.2):
                    line = self.proc.stdout.readline()
                    if line.startswith("LISTENING "):
                        return line.split()[1]
                    if not line and self.proc.poll() is not None:
                        break
                elif self.proc.poll() is not None:
                    break
        finally:
            sel.close()
        self.stop()
        raise BackendError(f"the renderer process did not start ({self.problem() or 'no answer'})")

    def problem(self) -> str | None:
        code = self.proc.poll()
        if code is None:
            return None
        last = self.last_log_line()
        return f"renderer process {describe_exit(code)}" + (f": {last}" if last else "")

    def last_log_line(self) -> str:
        try:
            lines = [ln.strip() for ln in Path(self.log.name).read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        return lines[-1][:200] if lines else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


class ChildProcessBackend(RemoteBackend):
    _can_restart = True

    def __init__(self, device: str | None = None, frame_format: str = "raw", dead_after: float = 10.0) -> None:
        self._device = device
        self._token = new_token()
        self.child = ChildProcess(self._token, device)
        super().__init__(self.child.address, token=self._token, frame_format=frame_format,
                         dead_after=dead_after, transport="child")

    @property
    def pid(self) -> int:
        return self.child.proc.pid

    def _peer_problem(self) -> str | None:
        return self.child.problem()

    def _restart_peer(self) -> None:
        old = self.child
        old.stop()
        try:
            self.child = ChildProcess(self._token, self._device)
        except BackendError as exc:  # tried again on the next look at the (still dead) process
            self._set_state("disconnected", str(exc))
            time.sleep(1.0)
            return
        self._endpoint = self.child.address
        with self._lock:
            self._message = f"{self._message}; restarted" if self._message else "renderer restarted"

    def _on_closed(self) -> None:
        self.child.stop()


def _stop_with_parent(server) -> None:
    """A renderer whose window is gone (even killed) stops by itself instead of lingering."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        server.stop()

    threading.Thread(target=watch, name="sg3-parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """The child's entry point: serve on a random loopback port and say where on stdout."""
    import argparse
    import logging

    from stylegan3.service.policy import AllowList
    from stylegan3.service.server import RenderServer

    parser = argparse.ArgumentParser(prog="sg3-renderer")
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s")
    token = os.environ.get("SG3_SERVICE_TOKEN") or None
    server = RenderServer("127.0.0.1", 0, AllowList.anything(), token=token, device=args.device, exit_on_fatal=True)
    print(f"LISTENING {server.address}", flush=True)
    _stop_with_parent(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
