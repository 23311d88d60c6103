"""Data files shipped inside the package, read through ``importlib.resources``.

They load the same from a clone of the repository, an installed wheel or Colab, from any working
directory. ``dates.npz``: chapter 3's trained date reader (its parameters), written by
``python -m s2s_ref.experiments.dates_numpy``; that run's results (training history, held-out
results, vocabularies) are ``s2s_ref.experiments.cli.load_results("dates_numpy")``.
"""

import json
from importlib.resources import as_file, files

import numpy as np

__all__ = ["asset_path", "load_json", "load_npz", "names"]


def names() -> list[str]:
    """The data files shipped, sorted (``["dates.npz"]``)."""
    return sorted(
        p.name for p in files(__name__).iterdir() if p.is_file() and not p.name.endswith(".py")
    )


def _resource(name: str):
    if name not in names():
        raise FileNotFoundError(
            f"s2s_ref.assets has no file {name!r}; it ships {', '.join(names())}"
        )
    return files(__name__).joinpath(name)


def asset_path(name: str):
    """A context manager giving a real file path for ``name`` (e.g. to hand to another program)."""
    return as_file(_resource(name))


def load_npz(name: str) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file ``name``, as a dict of name -> array (read fully)."""
    with _resource(name).open("rb") as f, np.load(f) as archive:
        return {key: archive[key] for key in archive.files}


def load_json(name: str):
    """The JSON file ``name`` (``translator_de.json``: the play page translator's vocabularies)."""
    return json.loads(_resource(name).read_text(encoding="utf-8"))
