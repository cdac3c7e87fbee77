"""Whole networks through the CUDA dispatch and the kernels' own code, without a GPU.

`tests/support/host_kernels.py` serves the extension's API from the host harness; here it is patched into
`stylegan3.ops.backend` for CPU tensors, so `stylegan3.ops` takes exactly the branch it takes for CUDA
tensors (filter flipping and caching, gains, padding, 1-D filters, bias casts) and the kernels' block code
computes. Results must match the reference path (and, with ../shared/fixtures, NVIDIA's outputs).
"""

from __future__ import annotations

import pytest
import torch

from stylegan3.ops import backend, bias_act, filtered_lrelu, upfirdn2d
from tests.support.dispatch import fixture_worst_diffs, reference, synthesis_vs_reference
from tests.support.host_kernels import CXX, HostKernels, build_harness

pytestmark = pytest.mark.skipif(CXX is None, reason="no C++ compiler to build the host harness")


@pytest.fixture(scope="module")
def harness_lib(tmp_path_factory):
    return build_harness(tmp_path_factory.mktemp("host_dispatch"))


@pytest.fixture(params=[2, 1], ids=["blocked", "generic"])
def kernels(harness_lib, request, monkeypatch):
    """The dispatch's CUDA branch for every float CPU tensor outside autograd, served by the harness."""
    host = HostKernels(harness_lib, specialize=request.param)

    def kernels_for(x: torch.Tensor):
        if x.dtype not in (torch.float16, torch.float32) or (torch.is_grad_enabled() and x.requires_grad):
            return None
        return host

    monkeypatch.setattr(backend, "cuda_kernels_for", kernels_for)
    return host



def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


@pytest.mark.parametrize("flip", [False, True])
def test_ops_through_the_dispatch(kernels, flip):
    """Each op's CUDA branch (flip, gain, padding, 1-D filters, no filter, bias) against its reference."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 17, 15)
    f1 = torch.rand(6) + 0.1  # asymmetric: a wrong flip shows
    f2 = torch.rand(4, 5) + 0.1
    b = torch.randn(3)
    calls = [
        (upfirdn2d, (x, f1), dict(up=2, padding=[3, 2, 1, 4], flip_filter=flip, gain=3.0)),
        (upfirdn2d, (x, f2), dict(down=2, padding=[1, 2, -1, 0], flip_filter=flip)),
        (upfirdn2d, (x, None), dict(up=(2, 1), down=(1, 2), padding=1)),
        (bias_act, (x, b), dict(act="lrelu", clamp=0.5)),
        (bias_act, (x.transpose(1, 3).contiguous(), torch.randn(17)), dict(dim=2, act="relu", gain=2.0)),
        (
            filtered_lrelu,
            (x, torch.rand(12) + 0.1, torch.rand(12) + 0.1, b),
            dict(up=2, down=2, padding=[11, 10, 9, 12], clamp=2.0, flip_filter=flip),
        ),
        (
            filtered_lrelu,
            (x, torch.rand(24) + 0.1, torch.rand(12, 12) + 0.1, b),
            dict(up=4, down=2, padding=[-6, -9, 3, 2], flip_filter=flip),
        ),
        (filtered_lrelu, (x, None, None, b), dict(gain=1.0, slope=1.0, clamp=256.0)),
        (filtered_lrelu, (x, torch.rand(5, 3), torch.rand(3)), dict(up=3, down=1, padding=2, flip_filter=flip)),
    ]
    for fn, args, kwargs in calls:
        with torch.no_grad():
            got = fn(*args, **kwargs)
        want = reference(fn, *args, **kwargs)
        assert got.shape == want.shape, (fn.__name__, kwargs)
        assert rel(got, want) < 1e-5, (fn.__name__, kwargs, rel(got, want))
    assert all(kernels.calls[k] >= 2 for k in ("upfirdn2d", "bias_act", "filtered_lrelu"))


@pytest.mark.parametrize("net", ["SG3-T", "SG3-R", "SG2"])
def test_whole_networks_match_the_reference_path(kernels, net):
    got, want = synthesis_vs_reference(net, seed=3)
    assert kernels.calls["filtered_lrelu" if net != "SG2" else "bias_act"] > 0
    assert rel(got, want) < 1e-5, rel(got, want)


@pytest.mark.slow
@pytest.mark.fixtures
def test_fixture_networks_match_nvidia_through_the_kernels(kernels, fixtures_dir, fixture_cases):
    """NVIDIA's reference outputs, reproduced through the dispatch and the kernel code (float32).

    About 45 s on 2 cores (the harness runs each block on one CPU thread); the blocked kernel only, which
    the GPU uses by default (the generic one meets whole networks in the test above)."""
    if kernels.specialize != 2:
        pytest.skip("fixture networks run once, with the default (register-blocked) kernel")
    worst = fixture_worst_diffs(fixtures_dir, fixture_cases, 1e-4)
    print("worst abs diff through the host kernels:", worst)
