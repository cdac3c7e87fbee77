"""Build-on-first-use of the CUDA kernels, with a per-version cache and a one-line fallback reason.

Why JIT instead of wheels: the kernels must match the user's exact torch / CUDA / GPU, and users who
cannot compile must still run (on the reference ops). So the extension is compiled with
`torch.utils.cpp_extension.load` + ninja the first time it is needed, into
`<cache>/extensions/<key>` where the key hashes the torch version, its CUDA version, the target GPU
architecture and every source file: any change gives a fresh folder, and a finished build is imported
directly on later runs (no toolchain needed then). Every failure becomes a one-line reason instead of
an exception.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

SOURCE_DIR = Path(__file__).resolve().parent
SOURCES = ("binding.cpp", "upfirdn2d.cu", "bias_act.cu", "filtered_lrelu.cu", "filtered_lrelu_sep.cu")
SOURCES += ("bias_act_grad.cu", "filtered_lrelu_grad.cu")  # the backward kernels (stylegan3/ops/autograd.py)
HEADERS = ("sg3_common.h", "launchers.h", "upfirdn2d.h", "bias_act.h", "filtered_lrelu.h", "filtered_lrelu_sep.h")
HEADERS += ("launchers_grad.h", "bias_act_grad.h", "filtered_lrelu_grad.h")
KERNEL_NAMES = ("upfirdn2d", "bias_act", "filtered_lrelu")
BUILD_FLAGS = {"cflags": ["-O3"], "cuda_cflags": ["-O3"]}
MARKER = "build.json"
LOG = "build.log"
DISABLE_ENV = "SG3_CUDA_BUILD"  # "0" disables building and loading

# The CPU build of the same kernel bodies (cpu_binding.cpp): C++ only, no CUDA toolkit. -march=native
# vectorizes for the user's own CPU, so the CPU's identity is part of its cache key.
CPU_SOURCES = ("cpu_binding.cpp",)
CPU_HEADERS = (
    "sg3_common.h", "upfirdn2d.h", "bias_act.h", "filtered_lrelu.h", "filtered_lrelu_sep.h", "filtered_lrelu_host.h"
)
CPU_HEADERS += ("bias_act_grad.h", "filtered_lrelu_grad.h")
CPU_BUILD_FLAGS = {"cflags": ["-O3", "-march=native", "-fopenmp"], "ldflags": ["-fopenmp"]}
CPU_DISABLE_ENV = "SG3_CPU_BUILD"  # "0" disables the CPU kernels


class BuildUnavailable(Exception):
    """Raised inside this module only; its message is the one-line reason shown to users."""


# ---------------------------------------------------------------------------------------------------
# Cache location and key (pure functions, tested on CPU).


def cache_root(env: dict[str, str] | None = None) -> Path:
    """`$SG3_EXPLORER_CACHE`, else `$XDG_CACHE_HOME/sg3-explorer`, else `~/.cache/sg3-explorer`."""
    env = os.environ if env is None else env
    if env.get("SG3_EXPLORER_CACHE"):
        return Path(env["SG3_EXPLORER_CACHE"]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "sg3-explorer"
    return Path.home() / ".cache" / "sg3-explorer"


def source_digest(
    source_dir: Path = SOURCE_DIR, names: tuple[str, ...] | None = None, flags: dict | None = None
) -> str:
    """SHA-256 over the names and bytes of every source and header, so any edit forces a rebuild.

    Defaults to the CUDA extension's files and flags; the CPU build passes its own."""
    h = hashlib.sha256()
    for name in sorted(SOURCES + HEADERS if names is None else names):
        h.update(name.encode())
        h.update(b"\0")
        h.update((source_dir / name).read_bytes())
        h.update(b"\0")
    h.update(json.dumps(BUILD_FLAGS if flags is None else flags, sort_keys=True).encode())
    return h.hexdigest()


def cpu_source_digest(source_dir: Path = SOURCE_DIR) -> str:
    return source_digest(source_dir, CPU_SOURCES + CPU_HEADERS, CPU_BUILD_FLAGS)


def cache_key(torch_version: str, cuda_version: str | None, arch: str, digest: str) -> str:
    """Folder name of one build: 16 hex digits of a hash of everything the binary depends on."""
    text = "\n".join([torch_version, str(cuda_version), arch, digest, f"py{sys.version_info[0]}.{sys.version_info[1]}"])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_dir_for(key: str, root: Path | None = None) -> Path:
    return (cache_root() if root is None else root) / "extensions" / key


def module_name(key: str, prefix: str = "sg3_cuda_ops") -> str:
    """Python module name of a build; unique per key so two builds never collide in sys.modules."""
    return f"{prefix}_{key[:12]}"


def cpu_signature(cpuinfo: str | None = None) -> str:
    """What a -march=native binary depends on: the machine type and the CPU's model and feature flags."""
    import platform

    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    wanted = ("model name", "flags", "features", "cpu model", "isa")
    lines = sorted({line.strip() for line in cpuinfo.splitlines() if line.split(":")[0].strip().lower() in wanted})
    text = platform.machine() + "\n" + platform.processor() + "\n" + "\n".join(lines)
    return f"{platform.machine() or 'cpu'}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


# ---------------------------------------------------------------------------------------------------
# Toolchain discovery (never raises).


@dataclass(frozen=True)
class Tool:
    name: str
    path: str | None
    version: str | None

    def describe(self) -> str:
        if self.path is None:
            return "not found"
        return f"{self.version or 'unknown version'} ({self.path})"


def _run_version(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout or "") + (out.stderr or "")
    return text.strip() or None


def _toolkit_ok(root: Path) -> bool:
    """A CUDA toolkit root has the runtime header and nvcc where torch's builder looks for them."""
    return (root / "include" / "cuda_runtime.h").is_file() and (root / "bin" / "nvcc").is_file()


def _nvcc_target(nvcc: str) -> Path | None:
    """Toolkit root behind an nvcc that is a symlink or a one-line `exec .../bin/nvcc` wrapper script."""
    path = Path(nvcc).resolve()
    if path.parent.name == "bin" and _toolkit_ok(path.parent.parent):
        return path.parent.parent
    try:
        head = path.read_bytes()[:4096].decode("utf-8", "replace") if path.stat().st_size < 4096 else ""
    except OSError:
        return None
    m = re.search(r"(/\S+)/bin/nvcc\b", head)
    if m and _toolkit_ok(Path(m.group(1))):
        return Path(m.group(1))
    return None


def cuda_home_candidates(env: dict[str, str] | None = None) -> list[Path]:
    """Where a CUDA toolkit may live when the user named none, most specific first: the toolkit behind the
    nvcc on PATH (torch's own guess, nvcc's grandparent, misses a wrapped nvcc), then the usual places."""
    env = os.environ if env is None else env
    out: list[Path] = []
    nvcc = shutil.which("nvcc", path=env.get("PATH"))
    behind = _nvcc_target(nvcc) if nvcc else None
    if behind is not None:
        out.append(behind)
    out.append(Path("/usr/local/cuda"))
    out.extend(sorted(Path("/usr/local").glob("cuda-*"), reverse=True))
    return out


def cuda_home(env: dict[str, str] | None = None) -> str | None:
    """The CUDA toolkit root the build uses: the first candidate with cuda_runtime.h and bin/nvcc.

    A CUDA_HOME/CUDA_PATH the user set wins even when broken, so the reason names their setting.
    """
    env = os.environ if env is None else env
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if env.get(var):
            return env[var]
    return next((str(root) for root in cuda_home_candidates(env) if _toolkit_ok(root)), None)


def _use_cuda_home(root: str) -> None:
    """Point torch's extension builder at `root` (it reads a module global computed at import)."""
    os.environ["CUDA_HOME"] = root
    try:
        from torch.utils import cpp_extension

        cpp_extension.CUDA_HOME = root
    except Exception:  # noqa: BLE001 - the build reports its own failure
        pass


def find_nvcc() -> Tool:
    home = cuda_home()
    path = None
    if home and (Path(home) / "bin" / "nvcc").is_file():
        path = str(Path(home) / "bin" / "nvcc")
    path = path or shutil.which("nvcc")
    version = None
    if path:
        text = _run_version([path, "--version"]) or ""
        m = re.search(r"release [\d.]+, V([\d.]+)", text) or re.search(r"release ([\d.]+)", text)
        version = m.group(1) if m else None
    return Tool("nvcc", path, version)


def find_ninja() -> Tool:
    path = shutil.which("ninja")
    if path is None:
        # The `ninja` wheel puts its binary next to the interpreter's scripts.
        candidate = Path(sys.executable).parent / "ninja"
        path = str(candidate) if candidate.is_file() else None
    version = (_run_version([path, "--version"]) or "").splitlines()[0] if path else None
    return Tool("ninja", path, version or None)


def find_cxx() -> Tool:
    name = os.environ.get("CXX") or "c++"
    path = shutil.which(name) or shutil.which("g++") or shutil.which("clang++")
    version = (_run_version([path, "--version"]) or "").splitlines()[0] if path else None
    return Tool("c++", path, version or None)


# ---------------------------------------------------------------------------------------------------
# Target description.


@dataclass(frozen=True)
class Target:
    torch_version: str
    cuda_version: str | None
    device_name: str | None
    arch: str  # TORCH_CUDA_ARCH_LIST value used for the build, e.g. "9.0"


def _torch_unless_disabled(env: str) -> ModuleType:
    """torch, unless `env`=0 turns this build off or torch cannot be imported (BuildUnavailable either way).

    The CUDA and the CPU build start from the same two refusals; only their switch differs.
    """
    if os.environ.get(env, "1") == "0":
        raise BuildUnavailable(f"disabled by {env}=0")
    try:
        import torch
    except Exception as exc:  # noqa: BLE001
        raise BuildUnavailable(f"PyTorch cannot be imported ({exc})") from None
    return torch


def describe_target() -> Target:
    """What the build would target; raises BuildUnavailable when there is no CUDA to build for."""
    torch = _torch_unless_disabled(DISABLE_ENV)
    if torch.version.cuda is None:
        raise BuildUnavailable(f"PyTorch {torch.__version__} is a CPU-only build")
    if not torch.cuda.is_available():
        raise BuildUnavailable(f"no CUDA device visible to PyTorch {torch.__version__}")
    index = torch.cuda.current_device()
    major, minor = torch.cuda.get_device_capability(index)
    arch = os.environ.get("TORCH_CUDA_ARCH_LIST") or f"{major}.{minor}"
    return Target(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(index), arch)


@contextmanager
def _arch_env(arch: str) -> Iterator[None]:
    """Build for the visible GPU only (fast, and avoids arches a new nvcc dropped) unless the user chose."""
    old = os.environ.get("TORCH_CUDA_ARCH_LIST")
    os.environ["TORCH_CUDA_ARCH_LIST"] = arch
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TORCH_CUDA_ARCH_LIST", None)
        else:
            os.environ["TORCH_CUDA_ARCH_LIST"] = old


# ---------------------------------------------------------------------------------------------------
# Load or build.


def _import_built(directory: Path, name: str) -> ModuleType | None:
    """Import a finished build without any toolchain; None when the folder holds none."""
    if not (directory / MARKER).is_file():
        return None
    candidates = sorted(directory.glob(f"{name}*.so")) + sorted(directory.glob(f"{name}*.pyd"))
    for so in candidates:
        mod_name = so.name.split(".")[0]  # the init symbol is named after the file (name or name_vN)
        if sys.modules.get(mod_name) is not None:
            return sys.modules[mod_name]
        spec = importlib.util.spec_from_file_location(mod_name, so)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[mod_name] = module
        return module
    return None


def first_error_line(log: str) -> str:
    """The most telling line of a compiler log, for the one-line reason."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for pattern in (r"\berror\b", r"fatal", r"Error"):
        for line in lines:
            if re.search(pattern, line):
                return line[:200]
    return lines[-1][:200] if lines else "no output"


def _compile(name: str, sources: tuple[str, ...], directory: Path, flags: dict, verbose: bool) -> ModuleType:
    """torch.utils.cpp_extension.load into `directory`; BuildUnavailable with the first error line on failure."""
    try:
        from torch.utils import cpp_extension

        # Copies: cpp_extension appends torch's own libraries to these lists in place, which would change
        # the flags (and so the cache key) of every later build and key computed in this process.
        return cpp_extension.load(
            name=name,
            sources=[str(SOURCE_DIR / s) for s in sources],
            extra_cflags=list(flags.get("cflags") or []),
            extra_cuda_cflags=list(flags.get("cuda_cflags") or []),
            extra_ldflags=list(flags.get("ldflags") or []),
            extra_include_paths=[str(SOURCE_DIR)],
            build_directory=str(directory),
            verbose=verbose,
        )
    except Exception as exc:  # noqa: BLE001 - compiler errors arrive as RuntimeError/OSError/...
        log = f"{type(exc).__name__}: {exc}"
        (directory / LOG).write_text(log)
        raise BuildUnavailable(f"build failed: {first_error_line(log)} (log: {directory / LOG})") from None


def _put_ninja_on_path(ninja: Tool) -> None:
    if ninja.path and str(Path(ninja.path).parent) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = str(Path(ninja.path).parent) + os.pathsep + os.environ.get("PATH", "")


def _cached_build(directory: Path, name: str, verbose: bool) -> ModuleType | None:
    """The build already in `directory`, or None when there is none or it fails to import (then both the CUDA and
    the CPU loader rebuild it rather than fail)."""
    try:
        return _import_built(directory, name)
    except Exception as exc:  # noqa: BLE001 - a stale or foreign binary: rebuild below
        if verbose:
            print(f"sg3-explorer: cached build in {directory} failed to import ({exc}); rebuilding", file=sys.stderr)
        return None


def _checked_and_marked(module: ModuleType, directory: Path, info: dict[str, object], start: float) -> ModuleType:
    """`module`, once it is known to hold every kernel; the marker beside it records `info` plus the build time.

    Both builds end the same way: a build missing a kernel is refused (BuildUnavailable), a good one is marked.
    """
    missing = [k for k in KERNEL_NAMES if not hasattr(module, k)]
    if missing:
        raise BuildUnavailable(f"built extension lacks {', '.join(missing)}")
    info = {**info, "seconds": round(time.perf_counter() - start, 1), "built_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    (directory / MARKER).write_text(json.dumps(info, indent=2))
    return module


def load_or_build(verbose: bool = False) -> ModuleType:
    """The compiled extension for the visible GPU; raises BuildUnavailable with a one-line reason."""
    target = describe_target()
    key = cache_key(target.torch_version, target.cuda_version, target.arch, source_digest())
    directory = build_dir_for(key)
    name = module_name(key)
    module = _cached_build(directory, name, verbose)
    if module is not None:
        return module

    nvcc, ninja, cxx = find_nvcc(), find_ninja(), find_cxx()
    if nvcc.path is None:
        raise BuildUnavailable("nvcc not found (install the CUDA toolkit or set CUDA_HOME)")
    home = cuda_home()
    if home is None or not (Path(home) / "include" / "cuda_runtime.h").is_file():
        where = f"CUDA_HOME={home} has no include/cuda_runtime.h" if home else "no CUDA toolkit with cuda_runtime.h"
        raise BuildUnavailable(f"{where} (set CUDA_HOME to the toolkit folder)")
    _use_cuda_home(home)
    if ninja.path is None:
        raise BuildUnavailable("ninja not found (pip install ninja)")
    if cxx.path is None:
        raise BuildUnavailable("no C++ compiler found (c++, g++ or clang++)")
    _put_ninja_on_path(ninja)

    directory.mkdir(parents=True, exist_ok=True)
    print(
        f"sg3-explorer: compiling CUDA kernels for {target.device_name} (first use only, about a minute)...",
        file=sys.stderr,
        flush=True,
    )
    start = time.perf_counter()
    with _arch_env(target.arch):
        module = _compile(name, SOURCES, directory, BUILD_FLAGS, verbose)
    info = {
        "torch": target.torch_version,
        "cuda": target.cuda_version,
        "arch": target.arch,
        "device": target.device_name,
        "nvcc": nvcc.version,
    }
    return _checked_and_marked(module, directory, info, start)


def cpu_build_dir() -> Path:
    """Build folder of the CPU kernels for this torch, CPU and source tree (raises BuildUnavailable)."""
    torch = _torch_unless_disabled(CPU_DISABLE_ENV)
    return build_dir_for(cache_key(torch.__version__, "cpu", cpu_signature(), cpu_source_digest()))


def load_or_build_cpu(verbose: bool = False) -> ModuleType:
    """The CPU build of the kernels (C++ and OpenMP, no CUDA); raises BuildUnavailable with a one-line reason."""
    directory = cpu_build_dir()
    name = module_name(directory.name, "sg3_cpu_ops")
    module = _cached_build(directory, name, verbose)
    if module is not None:
        return module
    ninja, cxx = find_ninja(), find_cxx()
    if cxx.path is None:
        raise BuildUnavailable("no C++ compiler found (c++, g++ or clang++)")
    if ninja.path is None:
        raise BuildUnavailable("ninja not found (pip install ninja)")
    _put_ninja_on_path(ninja)
    directory.mkdir(parents=True, exist_ok=True)
    print("sg3-explorer: compiling the CPU kernels (first use only, under a minute)...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    module = _compile(name, CPU_SOURCES, directory, CPU_BUILD_FLAGS, verbose)
    import torch

    info = {"torch": torch.__version__, "cpu": cpu_signature(), "cxx": cxx.version}
    return _checked_and_marked(module, directory, info, start)
