"""Run under `python -m torch.distributed.run --nproc_per_node N tests/support/dist_worker.py OUT.pt`.

Computes equivariance, a mean spectrum, a sticking average and video frames with the library's
torch.distributed plumbing (the same `stylegan3.runs.distributed.setup` the CLI commands use) on tiny nets
built by our own code, and has rank 0 save everything to OUT.pt. Launched with one process (or run
plainly) it gives the single-process reference the test compares with bit for bit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: tests.support

from stylegan3.errors import SG3Error  # noqa: E402
from stylegan3.explore.video import VideoSpec, iter_video_frames  # noqa: E402
from stylegan3.metrics.equivariance import estimate_equivariance  # noqa: E402
from stylegan3.metrics.spectra import network_spectrum  # noqa: E402
from stylegan3.metrics.sticking import sticking_view  # noqa: E402
from stylegan3.runs import distributed  # noqa: E402
from tests.support.gui import tiny_generator  # noqa: E402


def _fails_on_one(i: int) -> int:
    if i == 1:
        raise SG3Error(f"item {i} is bad")
    return i


def compute(ctx: distributed.Context) -> dict | None:
    torch.set_num_threads(1)  # both ranks share two cores; also keeps CPU float sums in one fixed order
    sg3 = tiny_generator("sg3", res=16, seed=1)
    sg2 = tiny_generator("sg2", res=16, seed=2)
    eq = estimate_equivariance(sg3, 5, seed=3, context=ctx)
    spec = network_spectrum(sg3, "output", 5, seed=7, context=ctx)
    stick = sticking_view(sg2, torch.randn(1, sg2.z_dim, generator=torch.Generator().manual_seed(0)), samples=7,
                          sigma=0.5, batch_size=2, context=ctx)
    frames = list(iter_video_frames([("a", sg3), ("b", sg2)], VideoSpec(seeds=[0, 1, 2], frames_per_seed=3,
                                                                          batch_size=2), context=ctx))
    failure = None
    try:  # an error on whichever rank computes item 1 must reach rank 0 and stop every rank (no hang)
        list(distributed.map_ordered(_fails_on_one, [0, 1, 2, 3], ctx))
    except SG3Error as exc:
        failure = str(exc)
    except distributed.PeerFailed:
        failure = "peer failed"
    if not ctx.is_main:
        return None
    return {
        "failure": failure,
        "eq": {m: (e.psnr, e.stderr, e.ci_low, e.ci_high, e.per_sample) for m, e in eq.items()},
        "spectrum": torch.from_numpy(spec.power),
        "sticking": (stick.average, stick.score, stick.ratio, stick.detail_energy),
        "frames": [torch.from_numpy(f.copy()) for f in frames],
        "world_size": ctx.world_size,
    }


def main(out: str) -> None:
    with distributed.session(torch.device("cpu")) as (ctx, _device):
        result = compute(ctx)
    if result is not None:
        torch.save(result, out)


if __name__ == "__main__":
    main(sys.argv[1])
