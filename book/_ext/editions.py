"""Sphinx extension: two editions of the book, and reference code that waits for its exercise.

The book is built in one of two editions, chosen by the environment variable ``S2S_EDITION``:

- ``self-study`` (the default): the reference implementation of every graded function is shown
  after the page that hands out its exercise, in a closed ``<details>`` block titled
  "Reference implementation — open it after you have passed exNN";
- ``classroom``: the same pages without that code, for courses that grade the exercises. Build it
  into its own folder so that it does not replace the default edition::

      S2S_EDITION=classroom jupyter-book build . -W --keep-going --path-output _build/classroom

  (the site is then in ``_build/classroom/_build/html``).

A page wraps reference code in the ``reference-code`` directive, naming the exercise::

    :::{reference-code} ex01
    ```{literalinclude} ../../s2s_ref/numpy_nn/rnn.py
    :pyobject: rnn_step_forward
    ```
    :::

Prose that differs between the editions goes in ``only`` blocks: the classroom edition sets the
Sphinx tag ``classroom`` (``{only} classroom``, ``{only} not classroom``).

In the classroom edition the directive's content is never parsed (so nothing of it reaches the
site or the search index) and a one-line note stands in its place. Every page says which edition
it belongs to in ``<meta name="s2s-edition">``, which tests/test_site_editions.py reads.
"""

import os
import re

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.errors import ExtensionError

EDITIONS = ("self-study", "classroom")
DEFAULT_EDITION = "self-study"


def edition_from_environment() -> str:
    """The edition named by ``S2S_EDITION`` (unset or empty: the self-study edition)."""
    edition = os.environ.get("S2S_EDITION", "").strip() or DEFAULT_EDITION
    if edition not in EDITIONS:
        raise ExtensionError(
            f"S2S_EDITION={edition!r} is not an edition of the book: expected one of {EDITIONS}"
        )
    return edition


class reference_code(nodes.General, nodes.Element):
    """A closed <details> block holding the reference code of one exercise."""


def _visit_html(self, node):
    summary = f"Reference implementation — open it after you have passed {node['exercise']}"
    self.body.append(f'<details class="s2s-reference"><summary>{summary}</summary>\n')


def _depart_html(self, node):
    self.body.append("</details>\n")


def _pass_through(self, node):
    """Other builders (text, LaTeX, ...) show the content without a wrapper."""


class ReferenceCode(Directive):
    """``{reference-code} exNN``: its content is the reference code of exercise exNN's functions."""

    required_arguments = 1
    has_content = True

    def run(self):
        exercise = self.arguments[0]
        if not re.fullmatch(r"ex\d\d", exercise):
            raise self.error(f"reference-code: expected an exercise such as ex01, got {exercise!r}")
        if not self.content:
            raise self.error("reference-code: expected the reference code (a literalinclude)")
        if self.state.document.settings.env.config.s2s_edition == "classroom":
            note = (
                f"The reference implementation of {exercise} is not part of the classroom edition."
            )
            return [nodes.paragraph(text=note, classes=["s2s-reference-withheld"])]
        node = reference_code(exercise=exercise)
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


def _edition_meta(app, pagename, templatename, context, doctree):
    edition = app.config.s2s_edition
    context["metatags"] = context.get("metatags", "") + (
        f'\n<meta name="s2s-edition" content="{edition}" />'
    )


def setup(app):
    edition = edition_from_environment()
    # "env": switching editions re-reads every page instead of reusing the other edition's pages
    app.add_config_value("s2s_edition", edition, "env", types=[str])
    if edition == "classroom":
        app.tags.add("classroom")
    passthrough = (_pass_through, _pass_through)
    app.add_node(
        reference_code,
        html=(_visit_html, _depart_html),
        latex=passthrough,
        text=passthrough,
        man=passthrough,
        texinfo=passthrough,
    )
    app.add_directive("reference-code", ReferenceCode)
    app.connect("html-page-context", _edition_meta)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
