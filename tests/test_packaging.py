"""The installed distribution: only `stylegan3` and `sg3_explorer` at the top of site-packages.

The repository keeps its folders (`visualizer/`, `widgets/`, `ops/`, `assets/`, `web/`), the wheel puts them under
`sg3_explorer`; these tests build the wheel from this tree and check it holds every module and data file of
those folders under the right name, that an unpacked wheel imports without the source tree, and that no code
imports the folders by their bare (generic) names, which would load a second copy of a module in a checkout.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP_FOLDERS = ("visualizer", "widgets", "ops", "assets", "web")
DATA_SUFFIXES = {".cu", ".cpp", ".h", ".cuh", ".ttf", ".txt", ".html", ".js", ".css"}


def _source_files() -> list[Path]:
    out = []
    for folder in ("stylegan3", *APP_FOLDERS, "sg3_explorer"):
        for path in sorted((ROOT / folder).rglob("*")):
            wanted = path.suffix == ".py" or path.suffix in DATA_SUFFIXES
            if path.is_file() and wanted and "__pycache__" not in path.parts:
                out.append(path.relative_to(ROOT))
    return out


def _installed_name(rel: Path) -> str:
    """Where a source file lands in the wheel."""
    parts = rel.parts
    if parts[0] in APP_FOLDERS:
        parts = ("sg3_explorer", *parts)
    return "/".join(parts)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed (pip's build isolation would have to fetch it)")
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                           str(ROOT), "-w", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (whl,) = out.glob("*.whl")
    return whl


@pytest.mark.slow
def test_wheel_top_level_names_are_only_the_library_and_the_app(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"stylegan3", "sg3_explorer"}
    missing = [_installed_name(rel) for rel in _source_files() if _installed_name(rel) not in names]
    assert missing == []  # a new subpackage must be added to pyproject's package list
    assert "sg3_explorer/ops/cuda/filtered_lrelu.cu" in names
    assert "sg3_explorer/assets/fonts/Roboto-Regular.ttf" in names
    assert "sg3_explorer/web/static/index.html" in names  # the page is served from the package, no CDN


@pytest.mark.slow
def test_unpacked_wheel_imports_without_the_source_tree(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sg3_explorer, sg3_explorer.ops.cuda as k, sg3_explorer.visualizer.explore as s, stylegan3.cli.main\n"
        "import sg3_explorer.assets as a\n"
        "print(len(sg3_explorer.__path__), k.__file__, s.__file__, a.ASSETS_DIR)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(site))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    count, *files = proc.stdout.split()
    assert count == "1"  # no reach into a source tree
    assert all(Path(f).is_relative_to(site) for f in files), files
    assert (Path(files[-1]) / "fonts" / "Roboto-Regular.ttf").is_file()


def _bare_app_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in APP_FOLDERS]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in APP_FOLDERS:
                found.append(node.module)
    return found


def test_no_code_imports_the_app_folders_by_their_bare_names():
    offenders = {}
    for folder in ("stylegan3", *APP_FOLDERS, "sg3_explorer", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            bad = _bare_app_imports(path)
            if bad:
                offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}


def test_checkout_reaches_the_app_folders_through_sg3_explorer():
    import sg3_explorer
    import sg3_explorer.widgets

    if Path(sg3_explorer.__file__).resolve().parent != ROOT / "sg3_explorer":
        pytest.skip("sg3_explorer is imported from an installed copy here, not from this checkout")
    assert Path(sg3_explorer.widgets.__file__).resolve() == ROOT / "widgets" / "__init__.py"
