"""SG3 Explorer library: clean-room StyleGAN3 / StyleGAN2 generators, safe loading, analysis."""

from __future__ import annotations

from stylegan3.errors import NetworkLoadError, SG3Error, UnsafePickleError, UnsupportedNetworkError

__version__ = "0.1.0"

__all__ = [
    "NetworkLoadError",
    "SG3Error",
    "UnsafePickleError",
    "UnsupportedNetworkError",
    "load_network",
    "__version__",
]


def load_network(source, key: str = "G_ema", device=None, progress=None):
    """Load a generator from a path, URL, catalog name or 'demo' without executing anything from the file.

    `progress(done_bytes, total_bytes_or_None)` is called while a URL downloads.
    """
    from stylegan3.loading import load_network as _load

    return _load(source, key=key, device=device, progress=progress)
