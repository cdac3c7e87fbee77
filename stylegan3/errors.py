"""Exception types of SG3 Explorer.

Every problem a user can cause (bad file, bad URL, bad argument) surfaces as one of these, so the CLI
and the GUI can print a single clear line instead of a traceback.
"""

from __future__ import annotations


class SG3Error(Exception):
    """Base of all user-facing errors: the message is one line meant for people."""


class NetworkLoadError(SG3Error):
    """A network file or URL could not be read, or holds something we refuse to load."""

    def __init__(self, source: object, problem: str) -> None:
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class UnsafePickleError(NetworkLoadError):
    """The pickle asks for a callable outside the allow-list (code execution attempt or unknown format)."""


class UnsupportedNetworkError(NetworkLoadError):
    """The file is readable but holds a network kind, class or version we do not implement."""


class DownloadError(NetworkLoadError):
    """Fetching a network over http(s) failed."""
