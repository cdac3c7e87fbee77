"""Split per-sample work over the processes of a ``torchrun`` launch, with results independent of the split.

``torchrun --nproc_per_node N sg3-explorer equivariance ...`` (or ``--nnodes``/``--node_rank`` for several
machines) starts N copies of the command with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` set. Each copy
calls :func:`setup`, which joins the process group (gloo on the CPU, NCCL on CUDA, one GPU per local
rank) only when launched so; a plain run is one process and touches no ``torch.distributed`` at all.

Work is a list of independent items (a latent's equivariance draws, a batch of perturbed renders, a
batch of video frames). :func:`map_ordered` hands them out round by round, ``world_size * per_rank`` at a
time, computes each on exactly one rank and gathers the results to rank 0 *in item order*. Because an
item's computation never depends on which rank runs it or on its neighbours, and rank 0 reduces in item
order, a 2-process run gives the same bits as a 1-process run on the same device type. Only rank 0 keeps
results, writes files and shows progress; the others just compute.

An exception on any rank ends the whole run on every rank after that round (rank 0 re-raises it; the
others leave quietly), so one rank's error never leaves the rest waiting forever in a collective.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from stylegan3.errors import SG3Error

__all__ = ["Context", "launched", "setup", "shutdown", "session", "broadcast", "on_main", "map_ordered", "PeerFailed"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Context:
    """Where this process stands in the launch: rank 0 of 1 for a plain run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


SINGLE = Context()


class PeerFailed(SystemExit):
    """Raised on the other ranks when one rank's work failed (rank 0 reports the error; exit status 1)."""

    def __init__(self) -> None:
        super().__init__(1)


def launched() -> bool:
    """True inside a multi-process ``torchrun`` launch (its environment variables are set, world size > 1)."""
    try:
        return "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        raise SG3Error(f"torchrun variable {name}={os.environ[name]!r} is not a number") from None


def setup(device: torch.device) -> tuple[Context, torch.device]:
    """Join the launch's process group if launched with torchrun; return this rank's context and device.

    On CUDA each local rank takes its own GPU (``cuda:LOCAL_RANK``, wrapping round when there are fewer).
    """
    if not launched():
        return SINGLE, device
    import torch.distributed as dist

    ctx = Context(_env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0))
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank % max(1, torch.cuda.device_count()))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=ctx.rank, world_size=ctx.world_size)
    return ctx, device


def shutdown() -> None:
    """Leave the process group (after a barrier, so no rank exits while another still talks)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        with contextlib.suppress(Exception):
            dist.barrier()
        dist.destroy_process_group()


@contextlib.contextmanager
def session(device: torch.device) -> Iterator[tuple[Context, torch.device]]:
    """``with session(device) as (ctx, device):`` setup on entry, shutdown on exit (also after an error)."""
    ctx, device = setup(device)
    try:
        yield ctx, device
    finally:
        if ctx.active:
            shutdown()


def broadcast(obj: T, ctx: Context) -> T:
    """Rank 0's ``obj`` on every rank (e.g. the list of samples still to do, read from rank 0's file)."""
    if not ctx.active:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@dataclass
class _Failure:
    message: str
    user_error: bool


def _raise(failure: _Failure, ctx: Context) -> None:
    if not ctx.is_main:
        raise PeerFailed()
    raise SG3Error(failure.message) if failure.user_error else RuntimeError(failure.message)


def on_main(fn: Callable[[], T], ctx: Context = SINGLE) -> T:
    """``fn()`` run on rank 0 only (reading a file), its value shared with every rank.

    An exception on rank 0 is raised there and ends the other ranks too, instead of leaving them
    waiting for a value that never comes.
    """
    if not ctx.active:
        return fn()
    value: Any = None
    if ctx.is_main:
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001 - re-raised below on rank 0, after telling the others
            value = _Failure(str(exc) or type(exc).__name__, isinstance(exc, SG3Error))
    value = broadcast(value, ctx)
    if isinstance(value, _Failure):
        _raise(value, ctx)
    return value


def _gather(local: list, ctx: Context) -> list | None:
    import torch.distributed as dist

    parts: list | None = [None] * ctx.world_size if ctx.is_main else None
    dist.gather_object(local, parts, dst=0)
    return parts


def map_ordered(
    fn: Callable[[T], R], items: Sequence[T], ctx: Context = SINGLE, per_rank: int = 1
) -> Iterator[list[tuple[T, R]] | None]:
    """Run ``fn`` on every item, spread over the ranks; yield each round's ``(item, result)`` pairs in item order.

    Every rank must iterate to the end (the rounds are collective). Rank 0 gets the lists; the other
    ranks get ``None`` for every round. Results travel pickled, so keep them on the CPU (numbers, numpy
    arrays, CPU tensors). One process: ``fn`` runs on each item in order, nothing is communicated.
    """
    if per_rank < 1:
        raise ValueError("per_rank must be at least 1")
    items = list(items)
    block = ctx.world_size * per_rank
    for start in range(0, len(items), block):
        round_items = items[start : start + block]
        local: list[tuple[int, Any]] = []
        for pos in range(ctx.rank, len(round_items), ctx.world_size):
            try:
                local.append((pos, fn(round_items[pos])))
            except Exception as exc:  # noqa: BLE001 - carried to rank 0 and re-raised there, never swallowed
                if not ctx.active:
                    raise
                local = [(pos, _Failure(str(exc) or type(exc).__name__, isinstance(exc, SG3Error)))]
                break
        if not ctx.active:
            yield [(round_items[pos], res) for pos, res in local]
            continue
        parts = _gather(local, ctx)
        failed = None
        if ctx.is_main:
            merged = sorted((pair for part in parts for pair in part), key=lambda pair: pair[0])
            failed = next((res for _, res in merged if isinstance(res, _Failure)), None)
        failed = broadcast(failed, ctx)
        if failed is not None:
            _raise(failed, ctx)
        yield [(round_items[pos], res) for pos, res in merged] if ctx.is_main else None
