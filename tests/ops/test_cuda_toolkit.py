"""Finding the CUDA toolkit root the way the build needs it (no GPU or toolkit needed for these tests).

torch guesses the root from the nvcc on PATH (its parent's parent). When that nvcc is a wrapper script
or a symlink farm (e.g. /usr/local/bin/nvcc -> exec /usr/local/cuda-13.0/bin/nvcc) the guess has no
headers and the build dies on `cuda_runtime.h: No such file`, so the build resolves the root itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from sg3_explorer.ops.cuda import build


def _toolkit(root: Path) -> Path:
    (root / "include").mkdir(parents=True)
    (root / "include" / "cuda_runtime.h").write_text("// fake\n")
    (root / "bin").mkdir()
    nvcc = root / "bin" / "nvcc"
    nvcc.write_text("#!/bin/sh\necho fake nvcc\n")
    nvcc.chmod(0o755)
    return root


def test_wrapper_script_leads_to_the_real_toolkit(tmp_path):
    root = _toolkit(tmp_path / "cuda-99.9")
    wrappers = tmp_path / "wrappers" / "bin"
    wrappers.mkdir(parents=True)
    (wrappers / "nvcc").write_text(f'#!/bin/sh\nexec {root}/bin/nvcc "$@"\n')
    (wrappers / "nvcc").chmod(0o755)
    env = {"PATH": str(wrappers)}
    assert build.cuda_home_candidates(env)[0] == root
    assert build.cuda_home(env) == str(root)
    # torch's guess, the wrapper's grandparent, has no headers: it must not be chosen.
    assert not build._toolkit_ok(wrappers.parent)


def test_symlinked_nvcc_leads_to_the_real_toolkit(tmp_path):
    root = _toolkit(tmp_path / "cuda-real")
    links = tmp_path / "links" / "bin"
    links.mkdir(parents=True)
    os.symlink(root / "bin" / "nvcc", links / "nvcc")
    assert build.cuda_home({"PATH": str(links)}) == str(root)


def test_user_setting_wins_even_when_broken(tmp_path):
    root = _toolkit(tmp_path / "cuda-good")
    env = {"PATH": str(root / "bin"), "CUDA_HOME": str(tmp_path / "nowhere")}
    assert build.cuda_home(env) == str(tmp_path / "nowhere")
    env = {"PATH": str(root / "bin"), "CUDA_PATH": str(root)}
    assert build.cuda_home(env) == str(root)


def test_no_nvcc_anywhere_gives_a_root_only_from_standard_places(tmp_path):
    home = build.cuda_home({"PATH": str(tmp_path)})
    # Either nothing, or a real toolkit in a standard location of this machine.
    assert home is None or (Path(home) / "include" / "cuda_runtime.h").is_file()
