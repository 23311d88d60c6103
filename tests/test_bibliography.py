"""The bibliography: every citation in the book resolves to a complete entry, and the built
bibliography page lists it. The .bib file is read with pybtex, the parser sphinxcontrib-bibtex uses.
"""

import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pybtex.database import parse_file
from pybtex.richtext import Text

from .test_site import HTML, _require

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"
# {cite}`a`, {cite:p}`a,b`, {cite:t}`a`, ... : the keys are comma-separated inside the backticks
CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")

# The papers the course is built on (the issue that set up the bibliography names them).
CORE = [
    "elman1990",  # the simple recurrent network
    "hochreiter1997",  # LSTM
    "cho2014",  # GRU and the RNN encoder-decoder
    "sutskever2014",  # sequence to sequence learning
    "bahdanau2015",  # additive attention
    "luong2015",  # multiplicative attention
    "bengio2015",  # scheduled sampling
    "papineni2002",  # BLEU
    "pascanu2013",  # exploding gradients and clipping
    "wu2016",  # GNMT: beam search length normalisation
]


def cited_keys():
    """{key: [pages citing it]} over every MyST page under book/."""
    cited = {}
    for page in sorted((ROOT / "book").rglob("*.md")):
        for group in CITE.findall(page.read_text(encoding="utf-8")):
            for key in group.split(","):
                cited.setdefault(key.strip(), []).append(page.relative_to(ROOT).as_posix())
    return cited


def entries():
    return parse_file(str(BIB), bib_format="bibtex").entries


def _plain(latex):
    """Letters and digits only, lower case, accents removed: a title as both sides can agree on."""
    text = unicodedata.normalize("NFKD", Text.from_latex(latex).render_as("text"))
    return "".join(c for c in text.lower() if c.isalnum())


def test_core_papers_are_in_the_bibliography():
    missing = [key for key in CORE if key not in entries()]
    assert not missing, f"{BIB.name} lacks {missing}"


def test_every_entry_has_author_title_and_year():
    incomplete = {
        key: [f for f in ("title", "year") if f not in entry.fields]
        + ([] if entry.persons.get("author") else ["author"])
        for key, entry in entries().items()
    }
    incomplete = {key: fields for key, fields in incomplete.items() if fields}
    assert not incomplete, f"entries missing fields: {incomplete}"


def test_every_cited_key_is_in_the_bib_file():
    known = entries()
    unknown = {key: pages for key, pages in cited_keys().items() if key not in known}
    assert not unknown, f"cited but not in {BIB.name}: {unknown}"


class _Citations(HTMLParser):
    """The text of each <div class="citation"> (one bibliography entry) of a page."""

    def __init__(self):
        super().__init__()
        self.items, self._depth = [], 0

    def handle_starttag(self, tag, attrs):
        if tag != "div":
            return
        if self._depth:
            self._depth += 1
        elif "citation" in (dict(attrs).get("class") or "").split():
            self._depth = 1
            self.items.append("")

    def handle_endtag(self, tag):
        if tag == "div" and self._depth:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.items[-1] += data


def test_bibliography_page_lists_every_cited_paper():
    page = HTML / "book" / "bibliography.html"
    _require(
        page.exists(),
        "no built book in _build/html: build the book first with "
        "`jupyter-book build . -W --keep-going`",
    )
    parser = _Citations()
    parser.feed(page.read_text(encoding="utf-8"))
    listed = [_plain(item) for item in parser.items]
    known = entries()
    absent = [
        key
        for key in cited_keys()
        if key in known and not any(_plain(known[key].fields["title"]) in item for item in listed)
    ]
    assert not absent, f"cited, but not listed on the bibliography page: {absent}"


@pytest.mark.parametrize(
    "bibtex, html",
    [
        ("Finding Structure in Time", "Finding structure in time."),
        ("{RNN} Encoder--Decoder", "RNN encoder\u2013decoder"),
        (r"Merri{\"e}nboer", "Merri\u00ebnboer"),
    ],
)
def test_plain_text_agrees_between_bibtex_and_html(bibtex, html):
    assert _plain(bibtex) == _plain(html)
