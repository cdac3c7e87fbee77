"""Build the extension exactly as first use would, on a machine without a GPU, and import it.

Why: a GPU is lent only now and then, and a broken build would waste its time. With a CUDA build of
torch and nvcc on the machine, this runs the real `build.load_or_build` (ninja, cache folder, marker,
import by file) for a chosen architecture, then imports the cached build a second time without the
toolchain, and checks the binding's argument errors (which need no device). Kernels are not launched.

    python -m ops.cuda.jit_check [--arch 9.0] [--cache DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="9.0", help="TORCH_CUDA_ARCH_LIST value to build for")
    p.add_argument("--cache", default=None, help="cache folder (default: a fresh temporary one)")
    args = p.parse_args(argv)

    import torch

    from sg3_explorer.ops.cuda import build

    if torch.version.cuda is None:
        print(f"jit_check: torch {torch.__version__} is a CPU-only build; nothing to check")
        return 2
    os.environ["SG3_EXPLORER_CACHE"] = args.cache or tempfile.mkdtemp(prefix="sg3-jit-")
    target = build.Target(torch.__version__, torch.version.cuda, "(no device: jit_check)", args.arch)
    build.describe_target = lambda: target  # the one thing a GPU-less machine cannot answer

    start = time.perf_counter()
    try:
        module = build.load_or_build(verbose=False)
    except build.BuildUnavailable as exc:
        print(f"jit_check: FAILED: {exc}")
        log = Path(str(exc).rsplit("(log: ", 1)[-1].rstrip(")"))
        if log.is_file():
            print(log.read_text()[-6000:])
        return 1
    built = time.perf_counter() - start
    key = build.cache_key(target.torch_version, target.cuda_version, target.arch, build.source_digest())
    directory = build.build_dir_for(key)
    print(f"ok  built {module.__name__} for sm_{args.arch.replace('.', '')} in {built:.1f} s into {directory}")
    print(f"ok  build_info: {module.build_info()}")

    # A second process-level load must come from the cache: no compiler needed.
    sys.modules.pop(module.__name__, None)
    start = time.perf_counter()
    again = build._import_built(directory, build.module_name(key))
    assert again is not None, "the finished build was not importable from the cache"
    print(f"ok  cached import in {time.perf_counter() - start:.2f} s (no toolchain)")

    missing = [
        k
        for k in (*build.KERNEL_NAMES, "filtered_lrelu_plan", "set_filtered_lrelu_smem_bytes")
        if not hasattr(again, k)
    ]
    assert not missing, f"missing functions: {missing}"
    print("ok  functions: " + ", ".join(n for n in dir(again) if not n.startswith("_")))

    # Argument checks run before any device work: CPU tensors must be refused with a clear message.
    x = torch.zeros(1, 1, 4, 4)
    f = torch.ones(2)
    for name, call in (
        ("upfirdn2d", lambda: again.upfirdn2d(x, f, 1, 1, 1, 1, 0, 0, 0, 0, 1.0)),
        ("bias_act", lambda: again.bias_act(x, torch.zeros(0), 1, "linear", 0.0, 1.0, -1.0)),
        ("filtered_lrelu", lambda: again.filtered_lrelu(x, f, f, torch.zeros(0), 1, 1, 0, 0, 0, 0, 1.0, 0.2, -1.0)),
    ):
        try:
            call()
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            assert "CUDA tensor" in first, first
            print(f"ok  {name} refuses CPU tensors: {first}")
        else:
            raise AssertionError(f"{name} accepted a CPU tensor")
    plan = again.filtered_lrelu_plan(1046, 1046, 2, 2, 12, 12, True, 12, 12, True, 11, 10, 11, 10)
    kind = "register-blocked" if len(plan) > 3 and plan[3] == 1 else "generic"
    print(f"ok  filtered_lrelu_plan(SG3-T 1044 layer) = {kind} kernel, tile {plan[0]}x{plan[1]}, {plan[2]} B shared")
    return 0


if __name__ == "__main__":
    sys.exit(main())
