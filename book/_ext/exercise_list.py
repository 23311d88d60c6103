"""Sphinx extension: rebuild the exercises page when a notebook is added to or removed from
exercises/.

book/exercises.md lists exercises/exNN_*.ipynb from an executed cell. Sphinx re-reads a page only
when its source or a noted dependency changes (editing a listed notebook counts: its download link
is a dependency), and the page's front matter turns off the execution cache; but a *new* notebook
changes neither, so without this hook an incremental build would keep the old list.
"""

from pathlib import Path

PAGE = "book/exercises"


def exercises_changed(app, env, added, changed, removed):
    current = sorted(p.name for p in Path(app.srcdir, "exercises").glob("ex[0-9][0-9]_*.ipynb"))
    if getattr(env, "s2s_exercise_files", None) == current:
        return []
    env.s2s_exercise_files = current  # pickled with the environment, compared on the next build
    return [PAGE] if PAGE in env.found_docs else []


def setup(app):
    app.connect("env-get-outdated", exercises_changed)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
