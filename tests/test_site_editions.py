"""Both editions of the built book: no graded function's code before its exercise, none at all in
the classroom edition, and nothing a learner could copy from the classroom edition scores.

- default (self-study) edition, ``_build/html``: the source of every graded function's reference
  appears, and only inside a closed ``<details>`` block titled "Reference implementation — open
  it after you have passed exNN", on its chapter's last page (after the exercise);
- classroom edition, ``_build/classroom/_build/html``: no graded function's source appears on
  any page; every code block of the site, assembled into one notebook per exercise, gets 0 points
  from the grader (while the same extraction from the default edition does score).

Pages are opened in headless Chromium (Playwright, Debian's ``/usr/bin/chromium``), as in
tests/test_site.py. Without a built book the tests skip, unless S2S_REQUIRE_SITE=1, when they
fail. The classroom edition is (re)built by this file when S2S_REQUIRE_SITE=1 or
S2S_BUILD_CLASSROOM=1, with the default edition's execution cache (about 20 s when the default
edition is built; a cold build executes every page, a few minutes).
"""

import concurrent.futures
import functools
import importlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from http.server import ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest

from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise
from tests.test_site import CHROMIUM, CHROMIUM_ARGS, PAGES, ROOT, _QuietHandler, _require

pytestmark = pytest.mark.site

DEFAULT_HTML = ROOT / "_build" / "html"
CLASSROOM_OUT = ROOT / "_build" / "classroom"
CLASSROOM_HTML = CLASSROOM_OUT / "_build" / "html"
CLASSROOM_BUILD = "S2S_EDITION=classroom jupyter-book build . -W --keep-going --path-output _build/classroom"  # fmt: skip

# Every graded name -> the reference objects that implement it (module, qualified names; private
# helpers included, since copying them is copying the answer).
REFERENCES = {
    "rnn_step_forward": ("s2s_ref.numpy_nn.rnn", ["rnn_step_forward"]),
    "rnn_step_backward": ("s2s_ref.numpy_nn.rnn", ["rnn_step_backward"]),
    "rnn_forward": ("s2s_ref.numpy_nn.rnn", ["rnn_forward"]),
    "rnn_backward": ("s2s_ref.numpy_nn.rnn", ["rnn_backward"]),
    "lstm_step_forward": ("s2s_ref.numpy_nn.lstm", ["lstm_step_forward"]),
    "lstm_step_backward": ("s2s_ref.numpy_nn.lstm", ["lstm_step_backward"]),
    "lstm_forward": ("s2s_ref.numpy_nn.lstm", ["lstm_forward"]),
    "lstm_backward": ("s2s_ref.numpy_nn.lstm", ["lstm_backward"]),
    "gru_step_forward": ("s2s_ref.numpy_nn.gru", ["gru_step_forward"]),
    "gru_step_backward": ("s2s_ref.numpy_nn.gru", ["gru_step_backward"]),
    "gru_forward": ("s2s_ref.numpy_nn.gru", ["gru_forward"]),
    "gru_backward": ("s2s_ref.numpy_nn.gru", ["gru_backward"]),
    "embedding_forward": ("s2s_ref.numpy_nn.embedding", ["embedding_forward"]),
    "embedding_backward": ("s2s_ref.numpy_nn.embedding", ["embedding_backward"]),
    "softmax_cross_entropy": ("s2s_ref.numpy_nn.loss", ["softmax_cross_entropy"]),
    "shift_for_decoder": ("s2s_ref.data.batching", ["shift_for_decoder"]),
    "encoder_forward": ("s2s_ref.numpy_nn.encoder", ["encoder_forward"]),
    "encoder_backward": ("s2s_ref.numpy_nn.encoder", ["encoder_backward"]),
    "decoder_forward": ("s2s_ref.numpy_nn.decoder", ["decoder_forward"]),
    "decoder_backward": ("s2s_ref.numpy_nn.decoder", ["decoder_backward"]),
    "greedy_decode": ("s2s_ref.decoding", ["greedy_decode"]),
    "beam_search": ("s2s_ref.decoding", ["beam_search", "length_penalty"]),
    "masked_softmax": ("s2s_ref.numpy_nn.attention", ["masked_softmax"]),
    "masked_softmax_backward": ("s2s_ref.numpy_nn.attention", ["masked_softmax_backward"]),
    "dot_attention_forward": ("s2s_ref.numpy_nn.attention", ["dot_attention_forward", "_read"]),
    "dot_attention_backward": ("s2s_ref.numpy_nn.attention", ["dot_attention_backward", "_read_backward"]),
    "general_attention_forward": ("s2s_ref.numpy_nn.attention", ["general_attention_forward"]),
    "general_attention_backward": ("s2s_ref.numpy_nn.attention", ["general_attention_backward"]),
    "additive_attention_forward": ("s2s_ref.numpy_nn.attention", ["additive_attention_forward"]),
    "additive_attention_backward": ("s2s_ref.numpy_nn.attention", ["additive_attention_backward"]),
    "Encoder": ("s2s_ref.torch_nn.seq2seq", ["Encoder"]),
    "Decoder": ("s2s_ref.torch_nn.seq2seq", ["Decoder"]),
    "batched_masked_softmax": ("s2s_ref.torch_nn.attention", ["masked_softmax"]),
    "general_attention": ("s2s_ref.torch_nn.attention", ["GeneralScore"]),
    "LuongDecoder": ("s2s_ref.torch_nn.attention_decoder", ["LuongDecoder"]),
    "layer_norm_forward": ("s2s_ref.numpy_nn.layer_norm", ["layer_norm_forward"]),
    "layer_norm_backward": ("s2s_ref.numpy_nn.layer_norm", ["layer_norm_backward"]),
    "causal_mask": ("s2s_ref.numpy_nn.multihead", ["causal_mask"]),
    "multi_head_attention_forward": ("s2s_ref.numpy_nn.multihead", ["multi_head_attention_forward"]),
    "multi_head_attention_backward": ("s2s_ref.numpy_nn.multihead", ["multi_head_attention_backward"]),
}  # fmt: skip

# What a learner copying code would add above it: the imports of the reference modules.
COPIER_IMPORTS = """import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from s2s_ref.shapes import ShapeError, as_float, check_shapes  # what the reference modules import
from s2s_ref.numpy_nn.transformer_checks import check_layer_norm, check_length, check_multi_head_attention
"""


def graded():
    """(exercise key, graded name) of every exercise, in course order."""
    return [(key, name) for key in EXERCISE_MODULES for name in get_exercise(key).functions]


def _reference_sources(name):
    """The source of each reference object of a graded name, as literalinclude shows it."""
    module_name, qualnames = REFERENCES[name]
    module = importlib.import_module(module_name)
    return {q: inspect.getsource(getattr(module, q)) for q in qualnames}


def _normalise(text):
    return re.sub(r"\s+", " ", text).strip()


def _header(source, lines=1):
    """The def/class line of a source, e.g. 'def rnn_step_forward(x, h_prev, Wx, Wh, b):', and
    the ``lines - 1`` lines after it (two lines tell apart the NumPy and torch masked_softmax)."""
    code = source.splitlines()
    start = next(i for i, line in enumerate(code) if line.startswith(("def ", "class ")))
    return _normalise("\n".join(code[start : start + lines]))


@functools.cache
def classroom_site():
    """The classroom edition's folder, built now when the environment asks for it."""
    if os.environ.get("S2S_REQUIRE_SITE") == "1" or os.environ.get("S2S_BUILD_CLASSROOM") == "1":
        book = shutil.which("jupyter-book") or str(Path(sys.executable).with_name("jupyter-book"))
        env = {**os.environ, "S2S_EDITION": "classroom"}
        command = [book, "build", ".", "-W", "--keep-going", "--path-output", str(CLASSROOM_OUT)]
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)  # fmt: skip
        assert proc.returncode == 0, f"the classroom edition does not build:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"  # fmt: skip
    _require(
        (CLASSROOM_HTML / "index.html").exists(),
        f"no classroom edition in {CLASSROOM_HTML.relative_to(ROOT)}: build it with "
        f"`{CLASSROOM_BUILD}` (or set S2S_BUILD_CLASSROOM=1 to let the tests build it)",
    )
    return CLASSROOM_HTML


def _serve(folder):
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# For each code block (<pre> inside div.highlight) of the article: its text (textContent, which a
# closed <details> keeps), and the summary and state of the <details> around it, if any.
CODE_BLOCKS = """() => [...document.querySelectorAll("article div.highlight pre")].map(pre => {
  const details = pre.closest("details");
  const summary = details && details.querySelector("summary");
  return {text: pre.textContent, details: !!details, open: details ? details.open : null,
          summary: summary ? summary.textContent : null,
          reference: !!pre.closest("details.s2s-reference")};
})"""


def _code_blocks_of_every_page(executable, url):
    """{docname: (the page's edition, its code blocks)}, read in headless Chromium."""
    from playwright.sync_api import sync_playwright

    found = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for doc in PAGES:
            page.goto(f"{url}/{doc}.html", wait_until="domcontentloaded")
            edition = page.evaluate("() => document.querySelector('meta[name=s2s-edition]')?.content")  # fmt: skip
            found[doc] = (edition, page.evaluate(CODE_BLOCKS))
        browser.close()
    return found


@pytest.fixture(scope="module")
def blocks_of():
    """blocks_of(edition) -> {docname: [code block]} for every page of the table of contents."""
    cache = {}

    def collect(edition):
        if edition in cache:
            return cache[edition]
        if edition == "default":
            folder = DEFAULT_HTML
            _require((folder / "index.html").exists(), "no built book in _build/html: build it with `jupyter-book build . -W --keep-going`")  # fmt: skip
        else:
            folder = classroom_site()
        executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        _require(executable, f"Chromium not found at {CHROMIUM}: install Debian's `chromium` package")  # fmt: skip
        server = _serve(folder)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        expected = "self-study" if edition == "default" else "classroom"
        try:
            # its own thread: tests/test_site.py may hold a Playwright session in this one, and
            # the sync API refuses to start a second where an event loop already runs
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                found = pool.submit(_code_blocks_of_every_page, executable, url).result()
        finally:
            server.shutdown()
            server.server_close()
        for doc, (edition_meta, _) in found.items():
            assert edition_meta == expected, f"{doc}: page of the {edition_meta!r} edition in the {edition} site"  # fmt: skip
        found = {doc: blocks for doc, (_, blocks) in found.items()}
        cache[edition] = found
        return found

    return collect


def test_every_graded_function_has_its_reference_listed():
    missing = [name for _, name in graded() if name not in REFERENCES]
    assert not missing, f"add the reference objects of {missing} to REFERENCES"


@pytest.mark.parametrize(("exercise", "name"), graded())
def test_default_edition_shows_the_reference_only_closed_after_the_exercise(blocks_of, exercise, name):  # fmt: skip
    pages = blocks_of("default")
    chapter_end = f"book/ch{exercise[2:]}/reference"
    for qualname, source in _reference_sources(name).items():
        header, full = _header(source, lines=2), _normalise(source)
        where = [(doc, b) for doc, blocks in pages.items() for b in blocks if header in _normalise(b["text"])]  # fmt: skip
        assert any(full in _normalise(b["text"]) for _, b in where), f"{qualname}: its reference source is on no page"  # fmt: skip
        for doc, block in where:
            assert doc == chapter_end, f"{qualname} ({name}) shown on {doc}, before its exercise: only {chapter_end} may show it"  # fmt: skip
            assert block["reference"] and block["open"] is False, f"{qualname} on {doc} is not in a closed <details>"  # fmt: skip
            assert block["summary"].strip() == f"Reference implementation — open it after you have passed {exercise}", block["summary"]  # fmt: skip


@pytest.mark.parametrize(("exercise", "name"), graded())
def test_classroom_edition_shows_no_graded_function(blocks_of, exercise, name):
    pages = blocks_of("classroom")
    for qualname, source in _reference_sources(name).items():
        header = _header(source)
        shown = [doc for doc, blocks in pages.items() for b in blocks if header in _normalise(b["text"])]  # fmt: skip
        assert not shown, f"{qualname} ({exercise}'s {name}) appears in the classroom edition on {shown}"  # fmt: skip
        assert not any(b["reference"] for blocks in pages.values() for b in blocks), "a reference <details> in the classroom edition"  # fmt: skip


class _CodeBlocks(HTMLParser):
    """The text of every code block of an HTML file (a <pre> in a div.highlight), cell outputs
    left out: what a reader can copy as code."""

    def __init__(self):
        super().__init__()
        self.blocks, self._divs, self._text = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "div":
            self._divs.append((dict(attrs).get("class") or "").split())
        elif tag == "pre" and self._in("highlight") and not self._in("cell_output"):
            self._text = []

    def _in(self, cls):
        return any(cls in classes for classes in self._divs)

    def handle_endtag(self, tag):
        if tag == "div" and self._divs:
            self._divs.pop()
        elif tag == "pre" and self._text is not None:
            self.blocks.append("".join(self._text))
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def copied_notebooks(html, folder):
    """Every code block of the built site, in book order, as one notebook per exercise."""
    cells = [COPIER_IMPORTS]
    for doc in PAGES:
        parser = _CodeBlocks()
        parser.feed((html / f"{doc}.html").read_text(encoding="utf-8"))
        cells.extend(parser.blocks)
    folder.mkdir(parents=True, exist_ok=True)
    for key in EXERCISE_MODULES:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nbformat.write(nb, str(folder / get_exercise(key).notebook))
    return len(cells)


def _grade(folder, tmp_path, *exercises):
    report = tmp_path / f"{folder.name}.json"
    notebooks = [str(folder / get_exercise(k).notebook) for k in exercises]
    command = [sys.executable, "-m", "s2s_ref.grade", *notebooks, "--json", str(report), "--quiet"]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {e["exercise"]: e for e in json.loads(report.read_text())["exercises"]}


def test_code_copied_from_the_classroom_edition_scores_nothing(tmp_path):
    n_cells = copied_notebooks(classroom_site(), tmp_path / "classroom")
    assert n_cells > 100  # the extraction found the book's code (about 150 blocks)
    scores = _grade(tmp_path / "classroom", tmp_path, *EXERCISE_MODULES)
    for key in EXERCISE_MODULES:
        scored = {t["name"]: t["points"] for t in scores[key]["tests"] if t["points"] > 0}
        assert not scored, f"{key}: code copied from the classroom edition scores {scored}"


def test_the_same_extraction_from_the_default_edition_scores(tmp_path):
    """The control: the extraction does find reference code when a page shows it."""
    _require((DEFAULT_HTML / "index.html").exists(), "no built book in _build/html")
    copied_notebooks(DEFAULT_HTML, tmp_path / "default")
    ex01 = _grade(tmp_path / "default", tmp_path, "ex01")["ex01"]
    assert ex01["score"] == ex01["max_score"] > 0, ex01["score"]
