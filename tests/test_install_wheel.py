"""The package as a learner gets it elsewhere (Colab, pip): a built wheel in a fresh virtual
environment, with no access to this repository, runs every solution notebook alone in an empty
folder. Also: the data it needs ship inside it, and everything it imports is declared."""

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from s2s_ref import assets
from s2s_ref.experiments.cli import load_results

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("ex*.ipynb"))
# import names whose distribution is called otherwise
DISTRIBUTION = {
    "sklearn": "scikit-learn",
    "IPython": "ipykernel",
    "matplotlib_inline": "matplotlib-inline",
}
TRANSLATE = "from s2s_ref.experiments.translator import Translator\n"
TRANSLATE += "print(Translator().translate('Save file'))"
RUN_NOTEBOOKS = """
import sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient
for path in map(Path, sys.argv[1:]):
    nb = nbformat.read(str(path), as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    print(f"{path.name}: {time.perf_counter() - start:.0f} s", flush=True)
"""


def test_the_shipped_models_load_through_importlib_resources():
    assert assets.names() == ["dates.npz", "translator_de.json", "translator_de.npz"]
    weights = assets.load_npz("dates.npz")
    saved = load_results("dates_numpy")
    assert weights["dec_Wh"].shape == (128, 3 * 128)  # a GRU decoder, H = 128
    assert saved["test"]["free_exact"] > 0.9 and saved["src_vocab"] and saved["tgt_vocab"]
    with pytest.raises(FileNotFoundError, match="s2s_ref.assets has no file 'nope.npz'"):
        assets.load_npz("nope.npz")
    for solution in SOLUTIONS:
        assert "../book" not in solution.read_text(), f"{solution.name} reads the repository"


def test_every_imported_distribution_is_declared():
    text = (ROOT / "pyproject.toml").read_text()
    declared = text[text.index("dependencies = [") : text.index("[project.optional")]
    stdlib = set(sys.stdlib_module_names)
    imported = set()
    for path in (ROOT / "s2s_ref").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            imported |= {n.split(".")[0] for n in names}
    third_party = imported - stdlib - {"s2s_ref", "torch"}
    for name in sorted(third_party):
        assert f'"{DISTRIBUTION.get(name, name)}>=' in declared, f"{name} is not a dependency"
    assert '"torch>=' in text[text.index("[project.optional") :]


def _build_wheel(tmp_path) -> Path:
    """The wheel, built from a copy of what it is made of (the checkout stays clean)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(
        ROOT / "s2s_ref", source / "s2s_ref", ignore=shutil.ignore_patterns("__pycache__")
    )
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("s2s_ref-*.whl")
    return wheel


@pytest.mark.slow
@pytest.mark.timeout(1500)  # installs into a fresh environment, then runs notebooks
def test_a_wheel_in_a_fresh_venv_runs_every_solution_alone_in_an_empty_folder(tmp_path):
    start = time.perf_counter()
    wheel = _build_wheel(tmp_path)
    files = zipfile.ZipFile(wheel).namelist()
    shipped = {"s2s_ref/assets/dates.npz", "s2s_ref/experiments/results/dates_numpy.json"}
    shipped |= {"s2s_ref/assets/translator_de.npz", "s2s_ref/assets/translator_de.json"}
    assert shipped <= set(files)
    assert any(f.endswith("licenses/LICENSE") for f in files), "the wheel carries LICENSE"
    assert not any(f.startswith(("tests/", "solutions/", "book/")) for f in files)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / Path(sys.executable).relative_to(sys.prefix)
    if not python.exists():
        python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{python.parent}{os.pathsep}{env['PATH']}"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--retries", "1", str(wheel), "torch==2.13.0"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    if installed.returncode != 0 and "No matching distribution" in installed.stderr:
        pytest.skip(f"no index or wheel cache has torch==2.13.0:\n{installed.stderr[-500:]}")
    assert installed.returncode == 0, installed.stderr[-3000:]
    folders = []
    for solution in SOLUTIONS:
        folder = tmp_path / "alone" / solution.stem  # empty but for the notebook
        folder.mkdir(parents=True)
        shutil.copy(solution, folder)
        folders.append(folder / solution.name)
    where = subprocess.run(
        [str(python), "-c", "import s2s_ref; print(s2s_ref.__file__)\n" + TRANSLATE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    ).stdout
    assert where.startswith(str(venv)) and str(ROOT) not in where
    assert where.splitlines()[1].strip(), "the shipped translator gave an empty translation"
    ran = subprocess.run(
        [str(python), "-c", RUN_NOTEBOOKS, *map(str, folders)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "MPLBACKEND": "Agg"},
        timeout=1800,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr[-5000:]
    assert ran.stdout.count(" s\n") == len(SOLUTIONS)
    print(ran.stdout, f"total {time.perf_counter() - start:.0f} s, {sysconfig.get_platform()}")
