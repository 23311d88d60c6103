"""Message pairs from the gettext catalogues of installed packages; hash splits; the TSV loader.

The reader is checked against the standard library's gettext on the real .mo files; tests that
need a JupyterLab language pack skip, saying which, where it is not installed.
"""

import gettext
import hashlib
import importlib.util
import io
import re

import pytest
from babel.messages import Catalog, mofile, pofile

from s2s_ref.data import catalogues
from s2s_ref.data.catalogues import (
    catalogue_sources,
    clean_pair,
    load_tab_separated,
    message_pairs,
    split_of_source,
    split_pairs,
)

PACKS = {"zh": "jupyterlab_language_pack_zh_CN", "de": "jupyterlab_language_pack_de_DE"}
MIN_PAIRS = {"zh": 3000, "de": 1000}  # the packs hold about 3,400 and 1,200 messages
BRACES = re.compile(r"\{\w*\}")  # placeholders once cleaned


def _need(target):
    if importlib.util.find_spec(PACKS[target]) is None:
        pytest.skip(f"{PACKS[target].replace('_', '-')} is not installed (pip install it)")


@pytest.mark.parametrize("target", ["zh", "de"])
def test_pairs_are_many_clean_sorted_and_the_same_on_every_call(target):
    _need(target)
    pairs = message_pairs(target)
    assert len(pairs) >= MIN_PAIRS[target]
    assert pairs == sorted(set(pairs)), "sorted and without duplicates"
    pairs.clear()  # the caller's list is a copy: the cache is untouched
    again = message_pairs(target)
    assert len(again) >= MIN_PAIRS[target] and again == message_pairs(target)
    for source, translation in again:
        for text in (source, translation):
            assert text == " ".join(text.split()), f"whitespace not normalised: {text!r}"
            assert "<br" not in text and "</" not in text, f"markup left: {text!r}"
        assert source != translation
        assert sorted(BRACES.findall(source)) == sorted(BRACES.findall(translation))


def test_chinese_targets_are_chinese_and_known_messages_are_there():
    _need("zh")
    pairs = message_pairs("zh")
    cjk = sum(any("\u4e00" <= c <= "\u9fff" for c in t) for _, t in pairs)
    assert cjk / len(pairs) > 0.95
    sources = {s for s, _ in pairs}
    assert {"Restart Kernel", "Rename File", "Open {1}"} <= sources


def test_german_known_translations():
    _need("de")
    pairs = set(message_pairs("de"))
    assert ("Open {1}", "{1} öffnen") in pairs
    assert ("Ln {1}, Col {2}", "Z {1}, Sp {2}") in pairs


@pytest.mark.parametrize("target", ["zh", "de"])
def test_reader_agrees_with_the_standard_library_gettext(target):
    """Every .mo file read by babel gives exactly what gettext.GNUTranslations reads from it."""
    _need(target)
    files = [f for s in catalogue_sources(target) for f in s["files"] if f.suffix == ".mo"]
    assert len(files) >= 10
    for path in files:
        with open(path, "rb") as f:
            table = gettext.GNUTranslations(f)._catalog  # msgid (ctx\x04msgid) or (msgid, n)
        singular = {(k, v) for k, v in table.items() if isinstance(k, str) and k and v}
        firsts = {(k[0], v) for k, v in table.items() if isinstance(k, tuple) and k[1] == 0 and v}
        expected = {(k.split("\x04")[-1], v) for k, v in singular | firsts}  # contexts dropped
        ours = set(catalogues._read(path))
        assert expected <= ours, path
        assert len(ours - expected) <= len(firsts), path  # only plural forms gettext cannot name


def test_sources_name_their_licences():
    _need("de")
    sources = catalogue_sources("de")
    names = [s["distribution"].lower() for s in sources]
    assert "jupyterlab-language-pack-de-de" in names and "sphinx" in names
    for s in sources:
        assert s["licence"] in {"BSD-3-Clause", "BSD-2-Clause", "MIT", "BSD License"}, s
        assert s["version"] and all(f.exists() for f in s["files"])


@pytest.mark.parametrize(
    "raw, expected",
    [
        (("Open %1", "%1 öffnen"), ("Open {1}", "{1} öffnen")),
        (("Compare %1 and %2", "比较 %1 和 %2"), ("Compare {1} and {2}", "比较 {1} 和 {2}")),
        (
            ("Changed in version %s", "Geändert in Version %s"),
            ("Changed in version {}", "Geändert in Version {}"),
        ),
        (
            ("Last updated on %(last_updated)s.", "Zuletzt aktualisiert am %(last_updated)s."),
            ("Last updated on {last_updated}.", "Zuletzt aktualisiert am {last_updated}."),
        ),
        (("See {0}", "Siehe {0}"), ("See {0}", "Siehe {0}")),
        (("100%% done", "100%% fertig"), ("100% done", "100% fertig")),
        (
            ("<h1>Source code for %s</h1>", "<h1>Quellcode für %s</h1>"),
            ("Source code for {}", "Quellcode für {}"),
        ),
        (
            ("Save &amp; Export", "Speichern &amp; Exportieren"),
            ("Save & Export", "Speichern & Exportieren"),
        ),
        (("\nPath:   %1\n", "\nPfad: %1\n"), ("Path: {1}", "Pfad: {1}")),
        (("%s (%s attribute)", "%s (Attribut von %s)"), None),  # mostly placeholders
        (("%b %d, %Y", "%d.%m.%Y"), None),  # a date format, not a sentence
        (("Open %1", "Öffnen"), None),  # the translation lost the placeholder
        (("See {0}", "Siehe {1}"), None),
        (("Kernel", "Kernel"), None),  # not translated
        (("Save", ""), None),
        (("OK", "好"), None),  # fewer than 3 letters: too short to teach anything
    ],
)
def test_clean_pair(raw, expected):
    assert clean_pair(*raw) == expected


def test_po_files_contexts_plurals_and_fuzzy_entries(tmp_path):
    """A catalogue written here by babel: contexts dropped, plurals two pairs, fuzzy skipped."""
    catalog = Catalog(locale="de")
    catalog.add("Edit", "Bearbeiten", context="menu")
    catalog.add(("%1 cell", "%1 cells"), ("%1 Zelle", "%1 Zellen"))
    catalog.add("Maybe wrong", "Vielleicht falsch", flags=["fuzzy"])
    catalog.add("Untranslated", "")
    buffer = io.BytesIO()
    pofile.write_po(buffer, catalog)
    (tmp_path / "x.po").write_bytes(buffer.getvalue())
    pairs = sorted(catalogues._read(tmp_path / "x.po"))
    assert pairs == [("%1 cell", "%1 Zelle"), ("%1 cells", "%1 Zellen"), ("Edit", "Bearbeiten")]
    buffer = io.BytesIO()
    mofile.write_mo(buffer, catalog)  # compiled: the fuzzy entry is left out of the .mo too
    (tmp_path / "x.mo").write_bytes(buffer.getvalue())
    assert sorted(catalogues._read(tmp_path / "x.mo")) == pairs


def test_split_by_source_hash_keeps_each_source_in_one_split():
    pairs = [(f"message {i // 2}", f"translation {i}") for i in range(2000)]  # two per source
    splits = split_pairs(pairs)
    assert sum(map(len, splits.values())) == len(pairs)
    seen = {name: {s for s, _ in part} for name, part in splits.items()}
    assert not (
        seen["train"] & seen["valid"]
        or seen["train"] & seen["test"]
        or seen["valid"] & seen["test"]
    )
    assert (
        0.05 < len(splits["test"]) / len(pairs) < 0.15
        and 0.05 < len(splits["valid"]) / len(pairs) < 0.15
    )
    alone = split_pairs(pairs[:10])  # a pair's split does not depend on the others
    for name, part in alone.items():
        assert set(part) <= set(splits[name])
    u = int.from_bytes(hashlib.sha256(b"message 7").digest()[:8], "big") / 2**64
    assert split_of_source("message 7") == ("test" if u < 0.1 else "valid" if u < 0.2 else "train")
    with pytest.raises(ValueError, match="valid \\+ test < 1"):
        split_pairs(pairs, valid=0.5, test=0.5)


@pytest.mark.parametrize("target", ["zh", "de"])
def test_the_real_splits_share_no_source(target):
    _need(target)
    splits = split_pairs(message_pairs(target))
    sources = {name: {s for s, _ in part} for name, part in splits.items()}
    assert not (sources["train"] & sources["test"]) and not (sources["train"] & sources["valid"])
    assert not (sources["valid"] & sources["test"])
    assert min(len(p) for p in splits.values()) > 50


def test_load_tab_separated(tmp_path):
    path = tmp_path / "deu.txt"
    path.write_bytes(
        "\ufeffGo.\tGeh.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #8597805 (Roujin)\r\n"
        "\r\n"
        "Hi.\t  Hallo!  \tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM)\n"
        "Go.\tGeh.\tduplicate\n"
        "I  won!\tIch hab  gewonnen!\n".encode()
    )
    assert load_tab_separated(path) == [
        ("Go.", "Geh."),
        ("Hi.", "Hallo!"),
        ("I won!", "Ich hab gewonnen!"),
    ]
    bad = tmp_path / "bad.txt"
    bad.write_text("Go.\tGeh.\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.txt, line 2: expected 'source<TAB>target"):
        load_tab_separated(bad)
    bad.write_text("Go.\t \n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        load_tab_separated(bad)


def test_bad_targets_get_a_sentence():
    with pytest.raises(ValueError, match="language code such as 'zh'"):
        message_pairs("zh-CN")
    with pytest.raises(LookupError, match="no JupyterLab language pack for 'xq'"):
        message_pairs("xq")
