"""The requirements resolve on every Python the course supports (3.10 to 3.13).

pip resolves for another Python with ``--python-version`` (wheels only), but it evaluates
environment markers for the interpreter running it; so each requirement's marker is evaluated here
for the target version first (``packaging``), and pip resolves what is left. num2words needs
docopt, published only as a source archive: it is built once into a pure-Python wheel. Needs an
index (PyPI): skipped, saying so, when none answers.
"""

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ("3.10", "3.12", "3.13")


def requirement_lines(path: Path):
    """Every requirement of a requirements file, following ``-r``; options and ``-e .`` left out."""
    for raw in path.read_text().splitlines():
        line = raw.split(" #")[0].strip()
        if line.startswith("-r "):
            yield from requirement_lines(path.parent / line.split(maxsplit=1)[1])
        elif line and not line.startswith(("#", "-")):
            yield line


def for_python(lines, version: str) -> list[str]:
    """The requirements that apply on Python ``version``, markers evaluated and dropped."""
    env = {"python_version": version, "python_full_version": f"{version}.0"}
    kept = []
    for line in lines:
        req = Requirement(line)
        if req.marker is None or Marker(str(req.marker)).evaluate(env):
            req.marker = None
            kept.append(str(req))
    return kept


def test_markers_pick_exactly_one_pin_of_each_package_per_version():
    lines = list(requirement_lines(ROOT / "requirements.txt"))
    assert any("; python_version" in line for line in lines)
    for version in (*VERSIONS, "3.11"):
        names = [re.split(r"[=<>!~ ]", r)[0].lower() for r in for_python(lines, version)]
        assert len(names) == len(set(names)), f"Python {version}: a package is pinned twice"
        assert {"torch", "numpy", "jupyterlab", "jupyter-book", "pytest"} <= set(names)


def test_requires_python_and_ruff_target_agree_with_the_oldest_version():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.10"' in text
    assert 'target-version = "py310"' in text


def _index_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=5).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_the_requirements_resolve_for(version, tmp_path):
    if not _index_reachable():
        pytest.skip("https://pypi.org cannot be reached: nothing to resolve against")
    pip = [sys.executable, "-m", "pip"]
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "-q", "docopt==0.6.2", "-w", str(wheels)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "\n".join(for_python(requirement_lines(ROOT / "requirements.txt"), version)) + "\n"
    )
    result = subprocess.run(
        [
            *pip,
            "install",
            "--dry-run",
            "--ignore-installed",
            "--python-version",
            version,
            "--only-binary=:all:",
            "--target",
            str(tmp_path / "target"),
            "--find-links",
            str(wheels),
            "--retries",
            "0",
            "-r",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert result.returncode == 0, f"Python {version} does not resolve:\n{result.stderr[-3000:]}"
    assert re.search(r"Would install .*\btorch-2\.13\.0", result.stdout), result.stdout[-2000:]


def test_learner_and_maintainer_requirements_apart():
    learner = list(requirement_lines(ROOT / "requirements-learner.txt"))
    everything = list(requirement_lines(ROOT / "requirements.txt"))
    names = {re.split(r"[=<>!~; ]", r)[0].lower() for r in learner}
    assert {"torch", "jupyterlab", "jupytext", "jupyter-book", "ipykernel"} <= names
    assert not names & {"pytest", "ruff", "playwright", "nbval"}, "test tools are not a learner's"
    assert set(learner) <= set(everything)
    text = (ROOT / "requirements-learner.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu\n" in text
    assert "\n-e .\n" in text


def test_quick_start_is_two_commands_that_ci_runs_exactly():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quick start") :]
    start = section.index("```bash\n") + len("```bash\n")
    block = section[start : section.index("\n```", start)]
    install, test = block.splitlines()
    assert install.startswith("pip install --retries 1 -r requirements.txt && ")
    assert install.endswith(" && jupyter-book build . -W --keep-going")
    assert test == "pytest"
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install in ci and test in ci


def test_binder_has_python_311_cpu_torch_and_jupytext():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    assert (ROOT / "binder" / "requirements.txt").read_text().splitlines()[-1] == (
        "-r ../requirements-learner.txt"
    )
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert '"markdown": "Jupytext Notebook"' in post_build
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK)


def test_packaging_metadata():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'license = "MIT"' in text and 'license-files = ["LICENSE"]' in text
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "CC-BY-4.0" in (ROOT / "LICENSE").read_text()
    cff = (ROOT / "CITATION.cff").read_text()
    from s2s_ref import __version__

    assert f"version: {__version__}\n" in cff and "cff-version: 1.2.0" in cff
    assert "## Unreleased" in (ROOT / "CHANGELOG.md").read_text()
    config = (ROOT / "_config.yml").read_text()
    assert "  baseurl: https://seq2seq-from-scratch.github.io/course/\n" in config
