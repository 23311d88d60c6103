"""The built book's layout, measured in a real browser: what a reader sees at 1280 and 390 px.

Every page of `_toc.yml` is loaded once (one Chromium for all of them, as in tests/test_site.py)
and measured: no raw TeX escape inside rendered math, no display equation or cell output wider
than the text column at 1280 px, no horizontal page scroll at 390 px, every figure with a number
and a caption, no raster figure shown smaller or larger than twice its natural size allows, and
no figure text below 9 px at the size it is displayed (SVG figures: each <text>'s font size times
the image's display scale).

Build the book first; without `_build/html` these tests skip, unless S2S_REQUIRE_SITE=1.
"""

import re

import pytest

from tests import test_site
from tests.test_site import PAGES, SETTLE, new_page

pytestmark = pytest.mark.site

# The same server and browser as tests/test_site.py (session fixtures, shared when both run).
site_url, browser = test_site.site_url, test_site.browser

DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
MIN_TEXT_PX = 9.0
# A raster figure is sharp on a high-density screen, and its text as large as drawn, only if it
# is shown at about half its natural width.
RASTER_SCALE = (1.8, 2.2)
# A TeX control sequence that MathJax showed as text: `\_` inside \texttt, an unknown macro.
TEX_ESCAPE = re.compile(r"\\[A-Za-z_{}$%&#]")

MEASURE = """async () => {
  const article = document.querySelector("article.bd-article") || document.body;
  const column = article.getBoundingClientRect();
  const out = {escapes: [], equations: [], outputs: [], figures: []};
  for (const c of article.querySelectorAll("mjx-container")) {
    const text = c.textContent;
    if (text.includes("\\\\")) out.escapes.push(text.slice(0, 80));
  }
  for (const c of article.querySelectorAll('mjx-container[display="true"]')) {
    const math = c.querySelector("mjx-math");
    const width = math ? math.getBoundingClientRect().width : 0;
    if (width > c.clientWidth + 1 || c.getBoundingClientRect().right > column.right + 1)
      out.equations.push({width: Math.round(width), column: c.clientWidth, text: c.textContent.slice(0, 60)});
  }
  for (const pre of article.querySelectorAll(".cell_output pre")) {
    if (pre.scrollWidth > pre.clientWidth + 1)
      out.outputs.push({width: pre.scrollWidth, column: pre.clientWidth, text: pre.textContent.slice(0, 60)});
  }
  for (const img of article.querySelectorAll("img")) {
    if (!img.closest("figure, .cell_output") || img.closest("a")) continue;  // badges are links
    const figure = img.closest("figure");
    const caption = figure ? figure.querySelector("figcaption") : null;
    const f = {src: img.src.split("/").pop(), natural: img.naturalWidth,
               shown: img.getBoundingClientRect().width,
               number: !!(caption && caption.querySelector(".caption-number")),
               caption: caption ? caption.textContent.trim().length : 0, svg: null};
    if (img.src.endsWith(".svg")) {
      const doc = new DOMParser().parseFromString(await (await fetch(img.src)).text(), "image/svg+xml");
      const root = doc.documentElement;
      const box = (root.getAttribute("viewBox") || "").split(/[ ,]+/).map(Number);
      const sizes = [];
      const size = (e) => {
        const style = (e.getAttribute("style") || "") + ";font-size:" + (e.getAttribute("font-size") || "");
        const m = style.match(/font:[^;]*?([0-9.]+)px/) || style.match(/font-size:\\s*([0-9.]+)/);
        return m ? parseFloat(m[1]) : 0;
      };
      // A text's size is its largest run: mathtext draws sub- and superscripts as smaller
      // <tspan>s of the same <text>, as any typesetting does, and they are not measured alone.
      for (const t of doc.querySelectorAll("text")) {
        const base = Math.max(size(t), ...[...t.querySelectorAll("tspan")].map(size));
        if (base > 0 && t.textContent.trim()) sizes.push(base);
      }
      f.svg = {viewBoxWidth: box.length === 4 ? box[2] : null, texts: sizes.length,
               smallest: sizes.length ? Math.min(...sizes) : null};
    }
    out.figures.push(f);
  }
  return out;
}"""

SCROLL = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture(scope="session")
def layout(site_url, browser):
    """layout(docname) -> measurements at 1280 px plus the page overflow at 390 px, cached."""
    cache = {}

    def load(doc):
        if doc not in cache:
            page = new_page(browser, [])
            page.set_viewport_size(DESKTOP)
            page.goto(f"{site_url}/{doc}.html", wait_until="load")
            page.evaluate(SETTLE)
            data = page.evaluate(MEASURE)
            page.set_viewport_size(PHONE)
            page.wait_for_timeout(100)  # one layout pass at the new width
            data["phone_overflow"] = page.evaluate(SCROLL)
            page.context.close()
            cache[doc] = data
        return cache[doc]

    return load


@pytest.mark.parametrize("doc", PAGES)
def test_no_raw_tex_escape_in_rendered_math(layout, doc):
    escapes = [e for e in layout(doc)["escapes"] if TEX_ESCAPE.search(e)]
    assert not escapes, (
        f"{doc}: rendered math shows TeX escapes as text (use \\mathtt, not \\texttt): {escapes[:3]}"
    )


@pytest.mark.parametrize("doc", PAGES)
def test_equations_fit_the_column(layout, doc):
    wide = layout(doc)["equations"]
    assert not wide, (
        f"{doc}: display equations wider than the column at 1280 px (break them with aligned): {wide[:3]}"
    )


@pytest.mark.parametrize("doc", PAGES)
def test_outputs_fit_the_column(layout, doc):
    wide = layout(doc)["outputs"]
    assert not wide, f"{doc}: cell outputs wider than the column at 1280 px: {wide[:3]}"


@pytest.mark.parametrize("doc", PAGES)
def test_no_horizontal_scroll_on_a_phone(layout, doc):
    overflow = layout(doc)["phone_overflow"]
    assert overflow <= 1, f"{doc}: at 390 px the page scrolls sideways by {overflow} px"


@pytest.mark.parametrize("doc", PAGES)
def test_figures_have_a_number_and_a_caption(layout, doc):
    bare = [f["src"] for f in layout(doc)["figures"] if not (f["number"] and f["caption"])]
    assert not bare, (
        f"{doc}: figures without a numbered caption (give the figure a name and a caption): {bare}"
    )


@pytest.mark.parametrize("doc", PAGES)
def test_raster_figures_are_shown_at_half_their_size(layout, doc):
    low, high = RASTER_SCALE
    wrong = [
        f"{f['src']}: natural {f['natural']} px shown at {f['shown']:.0f} px"
        for f in layout(doc)["figures"]
        if f["svg"] is None and f["shown"] and not low <= f["natural"] / f["shown"] <= high
    ]
    assert not wrong, f"{doc}: raster figures not at 2x their display size: {wrong}"


@pytest.mark.parametrize("doc", PAGES)
def test_figure_text_is_at_least_9_px(layout, doc):
    small = []
    for f in layout(doc)["figures"]:
        svg = f["svg"]
        if svg is None:
            continue  # raster: its scale is checked above
        assert svg["texts"] and svg["viewBoxWidth"], (
            f"{doc}: {f['src']} has no measurable <text> (draw with s2s_ref.style, svg.fonttype none)"
        )
        shown = svg["smallest"] * f["shown"] / svg["viewBoxWidth"]
        if shown < MIN_TEXT_PX:
            small.append(f"{f['src']}: {shown:.1f} px")
    assert not small, f"{doc}: figure text below {MIN_TEXT_PX} px at 1280 px: {small}"
