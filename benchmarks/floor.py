"""The per-frame floor (`stylegan3.perf.floor`, where the model lives so `sg3-explorer bench` can use it), as a script.

    PYTHONPATH=. python3 -m benchmarks.floor [--layers] [--json FILE] [--bw-gbs 3000 ...]
"""

from __future__ import annotations

import sys

from stylegan3.perf.floor import *  # noqa: F403 - this module is the floor model's command-line face
from stylegan3.perf.floor import main

if __name__ == "__main__":
    sys.exit(main())
