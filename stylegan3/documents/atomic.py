"""Temporary files that are renamed into place, created with the mode any ordinary file would get.

`tempfile.mkstemp` creates files readable by their owner only (0600), and a rename keeps that mode, so
a converted network or a shared cache written through it could not be read by anyone else. Opening
the temporary name ourselves with mode 0666 lets the kernel apply the user's umask (0644 under the
usual 022), exactly as for a file written in place, while the write stays atomic. Some writers that
take a file name (safetensors' `save_file`) replace it with a private file of their own, so
`replace_atomically` puts that mode back before the rename.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def create_temp_beside(target: str | os.PathLike, prefix: str = ".", suffix: str = ".part") -> tuple[int, Path]:
    """A new, empty, exclusively created file in `target`'s folder: `(fd, path)`, mode 0666 minus the umask."""
    folder = Path(target).parent
    for _ in range(100):
        path = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        return fd, path
    raise FileExistsError(f"no free temporary name in {folder}")


@contextlib.contextmanager
def replace_atomically(target: str | os.PathLike, prefix: str = ".", suffix: str = ".part") -> Iterator[Path]:
    """Yield a temporary path beside `target` to write by name; renamed onto `target` when the block succeeds.

    The result has the mode a new file gets under the umask; on any failure the temporary file is removed
    and `target` is left as it was.
    """
    fd, tmp = create_temp_beside(target, prefix, suffix)
    os.close(fd)
    mode = os.stat(tmp).st_mode & 0o777
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
