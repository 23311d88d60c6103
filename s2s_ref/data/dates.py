"""Date normalisation: human-written dates in several languages -> ISO ``YYYY-MM-DD``.

The sources come from the Unicode CLDR calendar data shipped with ``babel``: each locale's own
``short``/``medium``/``long``/``full`` date patterns, month and weekday names, so the task holds
real linguistic variety that nobody in this course wrote ("7. März 2024", "jeudi 7 mars 2024",
"7 de marzo de 2024"). Two tweaks keep every source unambiguous:

- two-digit years (``yy``) are widened to four digits: "07.03.24" could be 1924 or 2024;
- the US short pattern ``M/d/y`` is left out when other locales are mixed in: "3/7/2024" is
  7 March in English and 3 July in Spanish, and no model can tell which.

Tokens are characters. The held-out split hashes the date (``splits.split_of``), so a test date
never appears in training in any language or format.
Book: chapter 3, "A real task: reading dates".
"""

import datetime
import re

from babel.dates import format_date, get_date_format

from s2s_ref.data.splits import check_count, draw_in_split

LOCALES = ("en", "de", "fr", "es", "it", "nl")
STYLES = ("short", "medium", "long", "full")
START, END = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)


def date_pattern(locale: str, style: str) -> str:
    """The locale's CLDR date pattern for a style, with two-digit years widened to four.

    e.g. ("de", "short") -> "dd.MM.y" (CLDR says "dd.MM.yy").
    """
    if style not in STYLES:
        raise ValueError(f"date_pattern: style must be one of {STYLES}, got {style!r}")
    pattern = get_date_format(style, locale=locale).pattern
    return re.sub(r"(?<!y)yy(?!y)", "y", pattern)


def format_human_date(date: datetime.date, locale: str, style: str) -> str:
    """A date as a person writing in ``locale`` would, with plain spaces.

    e.g. (2024-03-07, "fr", "full") -> "jeudi 7 mars 2024"
    """
    text = format_date(date, date_pattern(locale, style), locale=locale)
    return re.sub(r"\s", " ", text)  # CLDR uses narrow no-break spaces in some locales


def date_formats(locales=LOCALES, styles=STYLES) -> list[tuple[str, str]]:
    """The (locale, style) pairs drawn from: all of them, except ambiguous US short dates.

    locales, styles: sequences of strings such as ("en", "de") and ("short", "long"); a bare
    string is refused (it would be read letter by letter).
    """
    for name, value in (("locales", locales), ("styles", styles)):
        if isinstance(value, str):
            raise TypeError(
                f"date_formats: {name} must be a sequence of strings, got the string {value!r}; "
                f"write ({value!r},)"
            )
    bad = [s for s in styles if s not in STYLES]
    if bad or not styles:
        raise ValueError(f"date_formats: styles must come from {STYLES}, got {list(styles)}")
    if not locales:
        raise ValueError("date_formats: give at least one locale, e.g. ('en', 'de')")
    pairs = [(loc, s) for loc in locales for s in styles]
    if len(set(locales)) > 1:
        pairs = [p for p in pairs if p != ("en", "short")]
    return pairs


def make_dates(
    n,
    rng,
    locales=LOCALES,
    styles=STYLES,
    start=START,
    end=END,
    split="train",
    test_fraction=0.1,
):
    """n (human date characters, ISO characters) pairs, dates uniform in [start, end].

    rng: numpy.random.Generator; locales: babel locale codes; styles: a subset of STYLES.
    -> list of (list of characters, list of 10 characters "YYYY-MM-DD").
    """
    n = check_count("make_dates", n)
    formats = date_formats(locales, styles)
    if start > end:
        raise ValueError(f"make_dates: start {start} is after end {end}")
    first, span = start.toordinal(), end.toordinal() - start.toordinal() + 1

    def draw():
        date = datetime.date.fromordinal(first + int(rng.integers(span)))
        locale, style = formats[int(rng.integers(len(formats)))]
        return list(format_human_date(date, locale, style)), list(date.isoformat())

    tries = max(1000, 50 * n)
    return draw_in_split(draw, lambda ex: "".join(ex[1]), n, split, test_fraction, tries)
