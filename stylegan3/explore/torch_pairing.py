"""Which torchvision goes with the installed torch, and the pip command that adds LPIPS without replacing torch.

The `perceptual` extra needs torchvision, and every torchvision release is built for one torch release. Left to
itself, pip answers `pip install 'sg3-explorer[perceptual]'` with the newest torchvision and so the newest torch:
on a CPU install that is a multi-GB CUDA torch replacing the user's (a dry run planned torch 2.14.1, triton and
~20 nvidia-* packages). Pinning torch to the installed version makes pip choose the torchvision made for it
(checked with `pip install --dry-run` against torch 2.13.0+cpu: only lpips and torchvision 0.28.0 planned).
A torchvision of another release, or a PyPI (CUDA) torchvision under a Linux CPU torch, fails on import with
errors such as "operator torchvision::nms does not exist"; `pairing_problem` names that in one line first.
"""

from __future__ import annotations

import re
import sys

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _release(version: str) -> tuple[int, ...]:
    """(2, 13, 0) of '2.13.0+cpu' / '2.13.0rc1': the numeric release, local label and pre-release tag dropped."""
    numbers = re.match(r"(\d+(?:\.\d+)*)", version.split("+", 1)[0])
    return tuple(int(n) for n in numbers.group(1).split(".")) if numbers else ()


def torchvision_series(torch_version: str) -> str | None:
    """'0.28' for torch 2.13: torch 2.N pairs with torchvision 0.(N + 15) since torch 2.0 / torchvision 0.15;
    None for a torch outside that rule (1.x)."""
    release = _release(torch_version)
    if len(release) < 2 or release[0] != 2:
        return None
    return f"0.{release[1] + 15}"


def pairing_problem(torch_version: str, torchvision_version: str, platform: str = sys.platform) -> str | None:
    """One line saying why this torchvision cannot run with this torch, or None when they pair."""
    series = torchvision_series(torch_version)
    if series is None:
        return None
    if ".".join(map(str, _release(torchvision_version)[:2])) != series:
        return (
            f"torchvision {torchvision_version} is not the release for torch {torch_version} "
            f"(that is torchvision {series}.x)"
        )
    cpu_torch = torch_version.endswith("+cpu")
    if platform.startswith("linux") and cpu_torch and "+" not in torchvision_version:
        return (
            f"torchvision {torchvision_version} is PyPI's CUDA build, which does not load with the CPU build "
            f"torch {torch_version}"
        )
    return None


def install_hint(torch_version: str) -> str:
    """The pip command that adds lpips and the matching torchvision and keeps `torch_version` installed."""
    if not _release(torch_version):
        return "pip install lpips torchvision"
    base = ".".join(map(str, _release(torch_version)))
    series = torchvision_series(torch_version)
    packages = ["lpips", f"'torch=={base}'"] + ([f"'torchvision=={series}.*'"] if series else ["torchvision"])
    index = f" --extra-index-url {CPU_INDEX}" if torch_version.endswith("+cpu") else ""
    return f"pip install {' '.join(packages)}{index} (the torch pin keeps your torch {torch_version})"


def installed_versions() -> tuple[str | None, str | None]:
    """(torch, torchvision) versions as installed (package metadata; nothing imported), None when absent."""
    from importlib import metadata

    found: list[str | None] = []
    for name in ("torch", "torchvision"):
        try:
            found.append(metadata.version(name))
        except metadata.PackageNotFoundError:
            found.append(None)
    return found[0], found[1]


def installed_problem() -> str | None:
    """Why the installed torchvision cannot serve LPIPS next to the installed torch (with the command that fixes
    it), or None when it is absent (the import says so) or pairs."""
    torch_version, torchvision_version = installed_versions()
    if torch_version is None or torchvision_version is None:
        return None
    problem = pairing_problem(torch_version, torchvision_version)
    return None if problem is None else f"{problem}; {install_hint(torch_version)}"
