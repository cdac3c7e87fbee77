"""Run through the reference ops, for tests that hold a kernel build (CPU kernels, host harness) against them.

Both the CPU-kernel and the host-dispatch tests compare the dispatch's answer with the reference path's on the
same call, ops one by one and whole networks; the forcing and the network comparison live here once.
"""

from __future__ import annotations

import torch

from stylegan3.ops import backend
from tests.support.nets import tiny_net


def reference(fn, *args, **kwargs):
    """`fn(*args, **kwargs)` with the reference ops forced, then the automatic choice restored."""
    backend.force_impl("ref")
    try:
        return fn(*args, **kwargs)
    finally:
        backend.force_impl(None)


def synthesis_vs_reference(net: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(dispatched, reference) synthesis of the tiny official-config `net` at 32x32 for two ws drawn with `seed`."""
    G = tiny_net(net, res=32, official=True)
    ws = torch.randn(2, G.num_ws, G.w_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return G.synthesis(ws, noise_mode="const"), reference(G.synthesis, ws, noise_mode="const")


def fixture_worst_diffs(fixtures_dir, fixture_cases, tol: float) -> dict[str, float]:
    """Render every case of NVIDIA's reference outputs through the current dispatch (float32) and assert each image
    within `tol` (max abs); the worst difference per network pickle, for the caller's report."""
    import numpy as np

    import stylegan3
    from stylegan3.networks.latents import class_vector, z_from_seed
    from stylegan3.networks.transform import set_input_transform

    nets: dict[str, torch.nn.Module] = {}
    worst: dict[str, float] = {}
    for case in fixture_cases:
        G = nets.setdefault(case["pickle"], stylegan3.load_network(str(fixtures_dir / case["pickle"]), device="cpu"))
        z = torch.from_numpy(z_from_seed(case["seed"], G.z_dim))
        with torch.no_grad():
            ws = G.mapping(z, class_vector(G.c_dim, case.get("c_label")), truncation_psi=case["psi"],
                           truncation_cutoff=case["cutoff"])
            set_input_transform(G, tuple(case["translate"]), case["rotate"])
            img = G.synthesis(ws, noise_mode=case["noise_mode"], force_fp32=True)
        diff = float(np.abs(img.numpy() - np.load(fixtures_dir / case["output"])).max())
        assert diff <= tol, (case["output"], diff)
        worst[case["pickle"]] = max(worst.get(case["pickle"], 0.0), diff)
    assert set(worst) >= {"sg3t.pkl", "sg3r.pkl", "sg2.pkl"}
    return worst
