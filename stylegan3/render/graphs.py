"""Synthesis replayed from a captured CUDA graph: one launch per frame instead of hundreds.

Why: at batch 1 a StyleGAN3 synthesis pass is a few hundred small kernels, and the Python and launch
overhead between them (tens of microseconds each) costs as much as the arithmetic on a fast GPU. A
CUDA graph records the whole pass once and replays it with one call; only the inputs change, copied
into static tensors: `ws` and, when given, the input `transform` (the renderer passes it as an argument
like ws). Everything else the pass reads is read in place at replay, so without a `transform` argument
the network's default transform buffer is honoured as it stands.

Layer capture is an argument of synthesis, so a captured layer is one more static output of the graph:
graphs are keyed by the capture list too, and share one memory pool per network (each is replayed and its
outputs copied under one lock, so one graph's scratch memory may be another's). Cancellation (`should_stop`)
is asked once before a replay: a replay is a single launch that cannot stop half-way.

What cannot be captured runs eagerly, with the reason kept for the performance panel:
- anything not on CUDA, or with `SG3_CUDA_GRAPHS=0`, or where the self-check switched graphs off;
- StyleGAN2 with random noise (drawn from a caller's generator each frame);
- a network on which other code put forward hooks: a replay would skip them (our code puts none);
- a capture that fails (then that configuration stays eager for this network).

The synthesis code never reads tensor values on the host (tests run it on the `meta` device to prove
it), which is what makes it capturable.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from stylegan3.networks.cancel import RenderCancelled, ShouldStop

DISABLE_ENV = "SG3_CUDA_GRAPHS"  # "0" turns graphs off


def graphs_disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "1") == "0"


def has_forward_hooks(module: torch.nn.Module) -> bool:
    """True if any submodule has hooks a replay would silently skip."""
    for m in module.modules():
        if m._forward_hooks or m._forward_pre_hooks:
            return True
    return False


def eager_reason(G: torch.nn.Module, ws: torch.Tensor, noise_mode: str) -> str | None:
    """Why this call must run eagerly, or None when it can be replayed from a graph."""
    if graphs_disabled():
        return f"disabled by {DISABLE_ENV}=0"
    from stylegan3.ops import backend

    off = backend.disabled_reason(ws.device, "graphs")  # the self-check found replays differing from eager
    if off is not None:
        return off
    if not ws.is_cuda:
        return "not on CUDA"
    from stylegan3 import families

    if noise_mode == "random" and families.capabilities(G).seeded_noise:
        return "random noise is drawn anew each frame"
    if has_forward_hooks(G.synthesis):
        return "forward hooks on the network (a replay would skip them)"
    return None


def _given(**kwargs: Any) -> dict[str, Any]:
    """The optional synthesis arguments that were given: a module that is not one of our generators (a test's
    toy network) takes none of them, and is still called as before when they are not used."""
    return {k: v for k, v in kwargs.items() if v is not None}


@dataclass
class _Captured:
    graph: Any  # torch.cuda.CUDAGraph
    ws: torch.Tensor  # static input
    out: torch.Tensor  # static output, overwritten by every replay
    transform: torch.Tensor | None = None  # static input when the pass takes the transform as an argument
    layers: dict[str, torch.Tensor] = field(default_factory=dict)  # static outputs: the captured layers


class SynthesisGraphs:
    """Captured synthesis passes of one network, one per (shape, dtype, noise mode, precision, capture list).

    Holds the network weakly (the per-network registry below must not keep a closed network alive).
    Thread-safe: the renderer thread replays while analysis jobs may run the network eagerly.
    """

    def __init__(self, G: torch.nn.Module, warmup: int = 2) -> None:
        self._G = weakref.ref(G)
        self.warmup = warmup
        self._graphs: dict[tuple, _Captured] = {}
        self._failed: dict[tuple, str] = {}
        self._lock = threading.Lock()
        self._pool: Any = None  # one memory pool for every graph of this network (see the module docstring)
        self.last_reason: str | None = None  # why the last call ran eagerly (None: it was replayed)

    @property
    def G(self) -> torch.nn.Module:
        G = self._G()
        if G is None:
            raise RuntimeError("the network of these graphs was released")
        return G

    def __call__(self, ws: torch.Tensor, noise_mode: str = "const", force_fp32: bool = False,
                 transform: Any = None, capture: Sequence[str] | None = None,
                 should_stop: ShouldStop | None = None) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G.synthesis(ws, noise_mode, force_fp32[, transform, capture, should_stop]), the same result: replayed
        when possible, eager otherwise."""
        reason = eager_reason(self.G, ws, noise_mode)
        if transform is not None:
            transform = torch.as_tensor(transform, device=ws.device).to(torch.float32)
        t_shape = None if transform is None else tuple(transform.shape)
        names = None if capture is None else tuple(capture)
        key = (tuple(ws.shape), ws.dtype, str(ws.device), noise_mode, bool(force_fp32), t_shape, names)
        eager = _given(transform=transform, capture=names, should_stop=should_stop)
        if reason is None:
            reason = self._failed.get(key)
        if reason is not None:
            self.last_reason = reason
            return self.G.synthesis(ws, noise_mode=noise_mode, force_fp32=force_fp32, **eager)
        if should_stop is not None and should_stop():
            raise RenderCancelled()
        with self._lock:
            captured = self._graphs.get(key)
            if captured is None:
                try:
                    captured = self._capture(ws, noise_mode, force_fp32, transform, names)
                except Exception as exc:  # noqa: BLE001 - any capture problem means: stay eager
                    self._failed[key] = f"capture failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
                    self.last_reason = self._failed[key]
                    torch.cuda.synchronize(ws.device)
                    return self.G.synthesis(ws, noise_mode=noise_mode, force_fp32=force_fp32, **eager)
                self._graphs[key] = captured
            captured.ws.copy_(ws)
            if transform is not None:
                captured.transform.copy_(transform)
            captured.graph.replay()
            self.last_reason = None
            # The static outputs are overwritten by the next replay of any graph of this pool: hand out copies.
            img = captured.out.clone()
            if names is None:
                return img
            return img, {name: t.clone() for name, t in captured.layers.items()}

    def _capture(self, ws: torch.Tensor, noise_mode: str, force_fp32: bool,
                 transform: torch.Tensor | None = None, names: tuple[str, ...] | None = None) -> _Captured:
        # Normal tensors even when called under inference_mode: later calls copy into them in place, and an
        # inference tensor would refuse that outside inference mode.
        with torch.inference_mode(False):
            static_ws = ws.detach().clone()
            static_t = None if transform is None else transform.detach().clone()
        extra = _given(transform=static_t, capture=names)

        def run() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            out = self.G.synthesis(static_ws, noise_mode=noise_mode, force_fp32=force_fp32, **extra)
            return out if names is not None else (out, {})

        with torch.no_grad():
            # Warm-up on a side stream (as torch recommends): builds the CUDA kernels, fills the filter
            # caches and lets cuDNN pick its algorithms before anything is recorded.
            side = torch.cuda.Stream(device=ws.device)
            side.wait_stream(torch.cuda.current_stream(ws.device))
            with torch.cuda.stream(side):
                for _ in range(max(1, self.warmup)):
                    run()
            torch.cuda.current_stream(ws.device).wait_stream(side)
            if self._pool is None:
                self._pool = torch.cuda.graph_pool_handle()
            graph = torch.cuda.CUDAGraph()
            # thread_local: another thread's CUDA calls (an analysis job) must not invalidate our capture.
            with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
                out, layers = run()
        return _Captured(graph=graph, ws=static_ws, out=out, transform=static_t, layers=layers)

    def clear(self) -> None:
        """Drop every captured graph (frees their memory pool)."""
        with self._lock:
            self._graphs.clear()
            self._failed.clear()
            self._pool = None

    @property
    def captured_keys(self) -> list[tuple]:
        return list(self._graphs)


_RUNNERS: weakref.WeakKeyDictionary[torch.nn.Module, SynthesisGraphs] = weakref.WeakKeyDictionary()
_RUNNERS_LOCK = threading.Lock()


def graphs_for(G: torch.nn.Module) -> SynthesisGraphs:
    """The graph cache of `G` (created on first use, dropped with the network)."""
    with _RUNNERS_LOCK:
        runner = _RUNNERS.get(G)
        if runner is None:
            runner = SynthesisGraphs(G)
            _RUNNERS[G] = runner
        return runner


def synthesize(
    G: torch.nn.Module, ws: torch.Tensor, noise_mode: str = "const", force_fp32: bool = False,
    transform: Any = None, capture: Sequence[str] | None = None, should_stop: ShouldStop | None = None,
    **eager_kwargs: Any
) -> tuple[torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]], str | None]:
    """(what G.synthesis returns, why-eager): a graph replay when possible; `transform` is a static input like
    ws, the `capture` layers static outputs. Extra kwargs (e.g. a noise generator) force eager."""
    if eager_kwargs:
        extra = _given(transform=transform, capture=capture, should_stop=should_stop)
        return G.synthesis(ws, noise_mode=noise_mode, force_fp32=force_fp32, **eager_kwargs, **extra), \
            "extra arguments"
    runner = graphs_for(G)
    out = runner(ws, noise_mode=noise_mode, force_fp32=force_fp32, transform=transform, capture=capture,
                 should_stop=should_stop)
    return out, runner.last_reason
