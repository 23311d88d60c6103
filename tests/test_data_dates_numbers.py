"""Dates (babel CLDR) and number words (num2words): right targets, reproducible, disjoint splits."""

import datetime

import numpy as np
import pytest
from num2words import num2words

from s2s_ref.data.dates import LOCALES, date_formats, format_human_date, make_dates
from s2s_ref.data.numbers import english_words, german_morphemes, make_numbers, number_pair


def test_targets_are_iso_dates_that_datetime_parses():
    for src, tgt in make_dates(300, np.random.default_rng(0)):
        date = datetime.date.fromisoformat("".join(tgt))
        assert str(date.year) in "".join(src) and str(date.day) in "".join(src)


@pytest.mark.parametrize(
    "locale, style, strptime_format",
    [
        ("en", "medium", "%b %d, %Y"),
        ("en", "long", "%B %d, %Y"),
        ("en", "full", "%A, %B %d, %Y"),
        ("de", "short", "%d.%m.%Y"),
        ("de", "medium", "%d.%m.%Y"),
        ("fr", "short", "%d/%m/%Y"),
        ("es", "short", "%d/%m/%Y"),
        ("nl", "short", "%d-%m-%Y"),
    ],
)
def test_sources_parse_back_to_their_date_with_datetime(locale, style, strptime_format):
    """datetime.strptime (C locale: English names) is an oracle independent of babel."""
    rng = np.random.default_rng(1)
    for ordinal in rng.integers(datetime.date(1950, 1, 1).toordinal(), 730000, size=50):
        date = datetime.date.fromordinal(int(ordinal))
        text = format_human_date(date, locale, style)
        assert datetime.datetime.strptime(text, strptime_format).date() == date, text


def test_month_names_in_other_languages_are_right():
    # written here from general knowledge, not from CLDR
    months = {
        "de": ["Januar", "März", "Dezember"],
        "fr": ["janvier", "mars", "décembre"],
        "es": ["enero", "marzo", "diciembre"],
        "it": ["gennaio", "marzo", "dicembre"],
        "nl": ["januari", "maart", "december"],
    }
    for locale, names in months.items():
        for month, name in zip((1, 3, 12), names, strict=True):
            assert name in format_human_date(datetime.date(2001, month, 9), locale, "long")


def test_no_source_means_two_dates():
    """Every (locale, style) mixed together: a source string always names exactly one date."""
    meaning = {}
    day = datetime.date(2003, 1, 1)
    for _ in range(800):
        day += datetime.timedelta(days=1)
        for locale, style in date_formats():
            text = format_human_date(day, locale, style)
            assert meaning.setdefault(text, day) == day, f"{text!r} is ambiguous"


def test_two_digit_years_are_widened_and_us_short_dropped_when_mixed():
    assert format_human_date(datetime.date(1924, 3, 7), "de", "short") == "07.03.1924"
    assert ("en", "short") not in date_formats()
    assert date_formats(("en",), ("short",)) == [("en", "short")]


def test_dates_seeded_and_split_by_date():
    a = make_dates(200, np.random.default_rng(5))
    assert a == make_dates(200, np.random.default_rng(5))
    train = {"".join(t) for s in (0, 1) for _, t in make_dates(2000, np.random.default_rng(s))}
    test = {"".join(t) for _, t in make_dates(300, np.random.default_rng(2), split="test")}
    assert not train & test


def test_bad_date_arguments():
    with pytest.raises(ValueError, match="styles must come from"):
        make_dates(3, np.random.default_rng(0), styles=("tiny",))
    with pytest.raises(ValueError, match="after end"):
        make_dates(
            3,
            np.random.default_rng(0),
            start=datetime.date(2000, 1, 2),
            end=datetime.date(2000, 1, 1),
        )
    assert len(LOCALES) >= 6


def test_number_words_and_german_morphemes():
    assert english_words(124) == ["one", "hundred", "and", "twenty", "four"]
    assert german_morphemes(24) == ["vier", "und", "zwanzig"]
    assert german_morphemes(1016) == ["ein", "tausend", "sechzehn"]
    for k in np.random.default_rng(0).integers(0, 10**6, size=300):
        assert "".join(german_morphemes(int(k))) == num2words(int(k), lang="de")
    assert number_pair(307, target="digits") == (["three", "hundred", "and", "seven"], list("307"))
    src, tgt = number_pair(21, level="char")
    assert "".join(src) == "twenty one" and "".join(tgt) == "einundzwanzig"


def test_numbers_seeded_split_and_checked():
    a = make_numbers(100, np.random.default_rng(0), target="digits")
    assert a == make_numbers(100, np.random.default_rng(0), target="digits")
    train = {"".join(t) for _, t in make_numbers(3000, np.random.default_rng(1), target="digits")}
    test = {
        "".join(t) for _, t in make_numbers(300, np.random.default_rng(2), "digits", split="test")
    }
    assert not train & test
    with pytest.raises(ValueError, match="level"):
        make_numbers(3, np.random.default_rng(0), level="morpheme")
    with pytest.raises(ValueError, match="high <= 10"):
        make_numbers(3, np.random.default_rng(0), high=10**7)
