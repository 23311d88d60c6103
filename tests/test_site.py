"""The built book, opened in a real browser (headless Chromium driven by Playwright).

Every page of the table of contents is loaded once from a local HTTP server and checked: it loads,
MathJax rendered every formula (no raw TeX left), every image loaded and has alt text, the console
stayed free of errors, no request left 127.0.0.1, and every local link and #fragment resolves.
The page list comes from `_toc.yml`, so a new chapter is covered as soon as it is in the book.

Build the book first (`jupyter-book build . -W --keep-going`); without `_build/html` these tests
skip, unless S2S_REQUIRE_SITE=1 (set by CI, which builds the book first), when they fail.
"""

import atexit
import functools
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"  # Debian's package: Playwright cannot download its own here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Console messages known to be harmless: (substring, why). None is needed today; add an entry
# only with the reason, so that a real error can never hide behind a broad pattern.
ALLOWED_CONSOLE_ERRORS: list[tuple[str, str]] = []

# TeX that MathJax would have replaced: finding it in the rendered text means a formula was missed.
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac\{|\$[^$\s][^$\n]*\$")
# Math in a MyST source outside code: $...$, $$...$$, {math} roles and directives, \begin{...}.
SOURCE_MATH = re.compile(r"\$[^$\n]+\$|\$\$|\{math\}|\\begin\{")
CODE_FENCE = re.compile(r"^(```|~~~)[^\n]*\n.*?^\1[ \t]*$", re.M | re.S)
# What makes an image in a MyST page: a code cell whose ":key: value" options give alt text, and
# the figure, image and glue:figure directives.
CELL_OPTIONS = re.compile(r"^```\{code-cell\}[^\n]*\n((?::[^\n]*\n)+)", re.M)
FIGURE_DIRECTIVE = re.compile(r"^(```+|:::+)\{(?:glue:figure|figure|image)\}", re.M)


def toc_pages():
    """Docnames of every page in `_toc.yml` (root, chapters, sections, globs), in book order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [_docname(toc["root"])]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                pages.append(_docname(entry["file"]))
            elif "glob" in entry:
                pages.extend(
                    sorted(
                        _docname(str(p.relative_to(ROOT)))
                        for p in ROOT.glob(entry["glob"])
                        if p.suffix in (".md", ".ipynb")
                    )
                )
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key, []))

    walk([toc])
    return pages


def _docname(path):
    return re.sub(r"\.(md|ipynb|rst)$", "", path.strip("/"))


PAGES = toc_pages()


def _require(condition, reason):
    if condition:
        return
    if os.environ.get("S2S_REQUIRE_SITE") == "1":
        pytest.fail(f"{reason} (S2S_REQUIRE_SITE=1 requires the site tests to run)")
    pytest.skip(reason)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line per request would drown pytest's output
        pass


@pytest.fixture(scope="session")
def site_url():
    _require(
        (HTML / "index.html").exists(),
        "no built book in _build/html: build the book first with "
        "`jupyter-book build . -W --keep-going`",
    )
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)  # port 0: any free port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


_SHARED = {}  # one Playwright and one Chromium per process, for every module that uses them


@pytest.fixture(scope="session")
def browser(site_url):
    """Chromium, started once per process: tests/test_site_layout.py uses the same instance
    (Playwright's sync API refuses to start a second time in one thread)."""
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    _require(executable, f"Chromium not found at {CHROMIUM}: install Debian's `chromium` package")
    if "browser" not in _SHARED:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        _SHARED["browser"] = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS
        )
        atexit.register(playwright.stop)
        atexit.register(_SHARED["browser"].close)  # atexit runs last-in first-out: close, stop
    return _SHARED["browser"]


def new_page(browser, external):
    """A fresh page whose every request to a host other than 127.0.0.1 is recorded and aborted."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def route(route):
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            external.append(url)
            route.abort()

    context.route("**/*", route)
    return context.new_page()


@dataclass
class Visit:
    """What one page load showed; each test asserts on one aspect of it."""

    status: int = 0
    title: str = ""
    h1: int = 0
    console_errors: list = field(default_factory=list)
    external: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    math: dict = field(default_factory=dict)
    images: list = field(default_factory=list)
    links: list = field(default_factory=list)
    phone: dict = field(default_factory=dict)


COLLECT = """() => {
  const article = document.querySelector("article") || document.body;
  const bare = article.cloneNode(true);  // the text a reader sees, without code and rendered math
  bare.querySelectorAll("pre, code, script, style, textarea, mjx-container").forEach(e => e.remove());
  const formulas = [...document.querySelectorAll("span.math, div.math")];
  return {
    title: document.title,
    h1: article.querySelectorAll("h1").length,
    math: {
      formulas: formulas.length,
      unrendered: formulas.filter(e => !e.querySelector("mjx-container")).map(e => e.textContent.slice(0, 80)),
      containers: document.querySelectorAll("mjx-container").length,
      errors: [...document.querySelectorAll("mjx-merror")].map(e => e.textContent.slice(0, 80)),
      text: bare.textContent,
    },
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0, alt: i.getAttribute("alt"), inArticle: article.contains(i)})),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
  };
}"""

# Measured after the viewport shrinks to a phone's 390 px: how far the page overflows, and what.
PHONE = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("article *")].filter(e => e.getBoundingClientRect().right > width + 1 && !e.closest("pre, .highlight, .pst-scrollable-table-container, .math, mjx-container, .cell_output"));
  return {page: document.documentElement.scrollWidth - width, wide: wide.slice(0, 3).map(e => e.tagName + "." + e.className + ": " + (e.textContent || "").slice(0, 40))};
}"""

SETTLE = """async () => {
  document.querySelectorAll("img").forEach(i => { i.loading = "eager"; });
  await Promise.all([...document.images].map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
}"""


@pytest.fixture(scope="session")
def visit(site_url, browser):
    """visit(docname) -> Visit, loading each page once per session."""
    cache = {}

    def load(doc):
        if doc in cache:
            return cache[doc]
        v = Visit()
        page = new_page(browser, v.external)
        page.on("console", lambda m: v.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: v.console_errors.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: v.failed.append(f"{r.url} ({r.failure})"))
        page.on(
            "response",
            lambda r: v.failed.append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None,
        )
        response = page.goto(f"{site_url}/{doc}.html", wait_until="load")
        v.status = response.status if response else 0
        page.evaluate(SETTLE)
        data = page.evaluate(COLLECT)
        v.title, v.h1, v.math, v.images, v.links = (
            data[k] for k in ("title", "h1", "math", "images", "links")
        )
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(100)  # one layout pass at the new width
        v.phone = page.evaluate(PHONE)
        page.context.close()
        cache[doc] = v
        return v

    return load


@pytest.mark.parametrize("doc", PAGES)
def test_page_loads(visit, doc):
    v = visit(doc)
    assert v.status == 200, f"{doc}.html answered HTTP {v.status}: is it in the build?"
    assert v.h1 == 1 and v.title.strip(), (
        f"{doc}: expected one <h1> and a title, got {v.h1} and {v.title!r}"
    )
    local_failures = [f for f in v.failed if urlsplit(f).hostname == "127.0.0.1"]
    assert not local_failures, f"{doc}: local resources failed to load: {local_failures}"


@pytest.mark.parametrize("doc", PAGES)
def test_math_is_rendered_by_mathjax(visit, doc):
    m = visit(doc).math
    assert not m["unrendered"], (
        f"{doc}: MathJax did not render {len(m['unrendered'])} formula(s), e.g. {m['unrendered'][:3]}"
    )
    assert not m["errors"], f"{doc}: MathJax reported TeX errors: {m['errors'][:3]}"
    leftovers = [hit.group(0) for hit in RAW_TEX.finditer(m["text"])]
    assert not leftovers, f"{doc}: raw TeX left in the page text: {leftovers[:5]}"
    source = next(ROOT.glob(f"{doc}.*"), None)
    if source is not None and SOURCE_MATH.search(CODE_FENCE.sub("", source.read_text())):
        assert m["formulas"] > 0 and m["containers"] > 0, (
            f"{doc}: the source has math but the page shows no rendered formula"
        )


@pytest.mark.parametrize("doc", PAGES)
def test_images_load_and_have_alt_text(visit, doc):
    images = visit(doc).images
    broken = [i["src"] for i in images if not i["ok"]]
    assert not broken, f"{doc}: images that did not load (naturalWidth 0): {broken}"
    no_alt = [i["src"][-60:] for i in images if i["inArticle"] and not (i["alt"] or "").strip()]
    assert not no_alt, f"{doc}: images in the text without alt text: {no_alt}"
    # A figure cell that printed nothing (e.g. plt.show() under MPLBACKEND=Agg) leaves no <img>.
    source = next(ROOT.glob(f"{doc}.*"), None)
    text = source.read_text() if source is not None and source.suffix == ".md" else ""
    expected = sum("alt:" in o for o in CELL_OPTIONS.findall(text)) + len(
        FIGURE_DIRECTIVE.findall(text)
    )
    figures = [i for i in images if i["inArticle"] and "/_images/" in i["src"]]
    assert len(figures) >= expected, (
        f"{doc}: {expected} code cells declare a figure but the page shows {len(figures)} image(s)"
    )


@pytest.mark.parametrize("doc", PAGES)
def test_no_console_errors(visit, doc):
    errors = [
        e for e in visit(doc).console_errors if not any(s in e for s, _ in ALLOWED_CONSOLE_ERRORS)
    ]
    assert not errors, f"{doc}: console errors: {errors}"


@pytest.mark.parametrize("doc", PAGES)
def test_no_request_leaves_localhost(visit, doc):
    external = visit(doc).external
    assert not external, f"{doc}: requests to other hosts (aborted): {external}"


@pytest.mark.parametrize("doc", PAGES)
def test_fits_a_phone_screen(visit, doc):
    """At 390 px wide nothing makes the whole page scroll sideways (code and tables scroll alone)."""
    overflow = visit(doc).phone
    assert overflow["page"] <= 1, (
        f"{doc}: the page is {overflow['page']} px wider than a 390 px screen; e.g. {overflow['wide']}"
    )


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name in ("id", "name") and value)


@functools.cache
def _ids_in(path):
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8"))
    return frozenset(parser.ids)


@pytest.mark.parametrize("doc", PAGES)
def test_internal_links_and_anchors_resolve(visit, doc):
    problems = []
    for href in sorted(set(visit(doc).links)):
        url = urlsplit(href)
        if url.hostname != "127.0.0.1":
            continue  # external links are not followed: the tests run offline
        path = HTML / unquote(url.path).lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            problems.append(f"{href}: no such file in _build/html")
        elif url.fragment and path.suffix == ".html" and unquote(url.fragment) not in _ids_in(path):
            problems.append(f"{href}: no element with id {url.fragment!r}")
    assert not problems, f"{doc}: broken links:\n" + "\n".join(problems)


def _repository_file(href, repo):
    """The repository path a GitHub, Colab or Binder link opens, or None for other links."""
    url = urlsplit(href)
    github = repo["url"].removeprefix("https://github.com/")
    if url.hostname == "github.com":
        match = re.fullmatch(rf"/{github}/(?:edit|blob|tree)/[^/]+/(.+)", url.path)
    elif url.hostname == "colab.research.google.com":
        match = re.fullmatch(rf"/github/{github}/blob/[^/]+/(.+)", url.path)
    elif url.hostname == "mybinder.org":
        match = re.search(r"urlpath=(?:lab/tree|tree)/([^&]+)", url.query)
    else:
        return None
    return unquote(match.group(1)) if match else None


@pytest.mark.parametrize("doc", PAGES)
def test_launch_and_edit_links_open_files_that_exist(visit, doc):
    """Binder, Colab and GitHub links name files of this repository that exist; Colab .ipynb only."""
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    problems = []
    for href in sorted(set(visit(doc).links)):
        path = _repository_file(href, repo)
        if path is None:
            continue
        if not (ROOT / path).exists():
            problems.append(f"{href}: {path} is not in the repository")
        if urlsplit(href).hostname == "colab.research.google.com" and not path.endswith(".ipynb"):
            problems.append(f"{href}: Colab opens only .ipynb files")
    assert not problems, f"{doc}:\n" + "\n".join(problems)


def test_pages_offer_binder_and_download_and_exercises_offer_colab(visit):
    notebook = next(d for d in PAGES if "kernelspec" in next(ROOT.glob(f"{d}.*")).read_text())
    links = visit(notebook).links
    assert any("mybinder.org/v2/gh/" in h for h in links), f"{notebook}: no Binder launch button"
    assert any(h.endswith(f"_sources/{notebook}.ipynb") for h in links), (
        f"{notebook}: no .ipynb download"
    )
    assert any(re.search(r"/edit/[^/]+/book/", h) for h in links), "no 'edit this page' link"
    exercises = [h for h in visit("book/exercises").links if "/exercises/ex" in h]
    notebooks = sorted(p.name for p in (ROOT / "exercises").glob("ex[0-9][0-9]_*.ipynb"))
    for name in notebooks:
        found = [h for h in exercises if h.endswith(name)]
        assert len(found) == 2, (
            f"exercises page: expected a Colab and a Binder link to {name}: {found}"
        )
        assert any(
            "_downloads/" in h and h.endswith(name) for h in visit("book/exercises").links
        ), f"no download link to {name}"


def test_toc_lists_the_root_and_the_bibliography():
    assert (
        PAGES[0] == "book/intro" and "book/bibliography" in PAGES and len(set(PAGES)) == len(PAGES)
    )


def test_index_redirects_to_the_first_page(site_url, browser):
    external = []
    page = new_page(browser, external)
    page.goto(f"{site_url}/index.html")
    page.wait_for_url(f"**/{PAGES[0]}.html")
    page.context.close()
    assert not external


def _screenshot_targets():
    """The intro, the first chapter 1 page with a figure, and the first page titled attention."""
    chapter1 = [d for d in PAGES if d.startswith("book/ch01/")]
    with_figure = [d for d in chapter1 if "_images/" in _html(d)]  # a figure, not a button icon
    attention = [d for d in PAGES if "attention" in _h1(d).lower()]
    targets = {"intro": PAGES[0], "chapter1": (with_figure or chapter1 or [None])[0]}
    targets["attention"] = attention[0] if attention else None
    return targets


def _h1(doc):
    """The text of the page's first <h1> (section number included), tags removed."""
    match = re.search(r"<h1[^>]*>(.*?)</h1>", _html(doc), re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)) if match else ""


def _html(doc):
    path = HTML / f"{doc}.html"
    return path.read_text(encoding="utf-8") if path.exists() else ""


@pytest.mark.parametrize("name", ["intro", "chapter1", "attention"])
def test_screenshot(site_url, browser, name):
    """Saves _build/screenshots/NAME.png (the top of the page) and NAME-full.png to look at."""
    doc = _screenshot_targets()[name]
    if doc is None:
        pytest.skip(f"no {name} page in the book yet")
    external = []
    page = new_page(browser, external)
    page.goto(f"{site_url}/{doc}.html", wait_until="load")
    page.evaluate(SETTLE)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png")
    page.screenshot(path=SCREENSHOTS / f"{name}-full.png", full_page=True)
    page.context.close()
    assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000, (
        "a blank page compresses to almost nothing"
    )
