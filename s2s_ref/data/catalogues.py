"""Real translations, offline: English -> target message pairs from the gettext catalogues that
PyPI packages ship, written by the packages' human translators.

Sources (each read only if installed; ``catalogue_sources`` lists what was read):

- JupyterLab's language packs, ``jupyterlab-language-pack-zh-CN``, ``-de-DE``, ``-fr-FR``, ...
  (BSD-3-Clause, Project Jupyter Contributors): the user interface of JupyterLab and its
  extensions, the bulk of the data;
- Sphinx's own catalogues and those of its bundled extensions ``sphinxcontrib-*``
  (BSD-2-Clause), of ``pydata-sphinx-theme`` and ``sphinx-book-theme`` (BSD-3-Clause) and of
  ``sphinx-togglebutton`` (MIT): the words of documentation sites.

Cleaning, in order: message contexts dropped; a plural entry gives two pairs (singular with the
first form, plural with the last); fuzzy or empty translations skipped; HTML tags removed and
entities decoded; whitespace collapsed; placeholders rewritten in one style (``%s``, ``%d`` ->
``{}``, JupyterLab's ``%1`` -> ``{1}``, ``%(name)s`` -> ``{name}``, ``{0}`` kept); a pair is
dropped when its two sides do not hold the same placeholders, when it is mostly placeholders
(fewer than 3 letters outside them, or more placeholders than words), or when the target just
repeats the source (an untranslated message); exact duplicates removed. The result is sorted.
Book: chapter 8, "A real translation task".
"""

import functools
import hashlib
import html
import re
from collections import Counter
from importlib import metadata
from pathlib import Path

from babel.messages import mofile, pofile

SPHINX_FAMILY = (
    "sphinx", "sphinxcontrib-applehelp", "sphinxcontrib-devhelp", "sphinxcontrib-htmlhelp",
    "sphinxcontrib-jsmath", "sphinxcontrib-qthelp", "sphinxcontrib-serializinghtml",
    "pydata-sphinx-theme", "sphinx-book-theme", "sphinx-togglebutton",
)  # fmt: skip
LANGUAGE_PACK = "jupyterlab-language-pack-"
SIMPLIFIED_CHINESE = {"zh", "zh_cn", "zh_hans", "zh_sg"}  # zh_TW, zh_HK: traditional script

_FLAGS = r"[-#0+]*\d*(?:\.\d+)?[a-zA-Z]"  # printf's flags, width, precision and conversion
_PLACEHOLDER = re.compile(
    rf"%%|%\((?P<name>\w+)\){_FLAGS}|%(?P<pos>\d+)|%{_FLAGS}|\{{(?P<brace>\w*)\}}"
)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locale_matches(locale: str, target: str) -> bool:
    """Does a catalogue folder name (zh_CN, zh-cn, de, de_DE, sr@latin) hold language target?"""
    locale = locale.lower().replace("-", "_").split("@")[0]
    if target == "zh":
        return locale in SIMPLIFIED_CHINESE
    return locale == target or locale.split("_")[0] == target


def _catalogue_files(dist, target):
    """The .mo (or, lacking one, .po) files of a distribution for the target language."""
    found = {}
    for f in dist.files or []:
        parts = Path(str(f)).parts
        if f.suffix not in (".mo", ".po") or "LC_MESSAGES" not in parts:
            continue
        locale = parts[parts.index("LC_MESSAGES") - 1]
        if _locale_matches(locale, target):
            stem = str(f)[: -len(f.suffix)]
            if f.suffix == ".mo" or stem not in found:
                found[stem] = Path(dist.locate_file(f))
    return sorted(found.values())


_LICENCE_TEXTS = (  # the sentence that tells each licence apart, most specific first
    ("Neither the name", "BSD-3-Clause"),
    ("Redistribution and use", "BSD-2-Clause"),
    ("Permission is hereby granted", "MIT"),
)


def _licence(dist) -> str:
    """The SPDX expression of the metadata if it has one, else the one its licence file reads
    as (BSD-3-Clause, BSD-2-Clause, MIT), else its licence classifiers."""
    meta = dist.metadata
    if meta.get("License-Expression"):
        return meta["License-Expression"]
    names = [*(meta.get_all("License-File") or []), "LICENSE", "LICENSE.rst", "LICENSE.txt"]
    for name in names:
        text = dist.read_text(f"licenses/{name}") or dist.read_text(name) or ""
        for sentence, spdx in _LICENCE_TEXTS:
            if sentence in text:
                return spdx
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if "License" in c]
    return ", ".join(classifiers) or "unknown"


def catalogue_sources(target: str) -> list[dict]:
    """The installed distributions that have catalogues for target, sorted by name:
    [{"distribution", "version", "licence", "files": [paths]}]."""
    _check_target(target)
    sources = {}
    for dist in metadata.distributions():
        name = _canonical(dist.metadata["Name"] or "")
        if name in SPHINX_FAMILY or name.startswith(LANGUAGE_PACK):
            files = _catalogue_files(dist, target)
            if files and name not in sources:
                sources[name] = {"distribution": dist.metadata["Name"], "version": dist.version,
                                 "licence": _licence(dist), "files": files}  # fmt: skip
    return [sources[k] for k in sorted(sources)]


def _read(path: Path):
    """(source, translation) of every translated message of one catalogue file, contexts dropped."""
    with open(path, "rb") as f:
        catalogue = mofile.read_mo(f) if path.suffix == ".mo" else pofile.read_po(f)
    for m in catalogue:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, (tuple, list)):  # plural: (singular, plural) and the target's forms
            forms = [s for s in m.string if s]
            if forms:
                yield m.id[0], forms[0]
                yield m.id[1], forms[-1]
        elif m.string:
            yield m.id, m.string


def _placeholders(text: str):
    """-> text with placeholders in one style, the Counter of them."""
    found = Counter()

    def rewrite(match):
        if match.group(0) == "%%":
            return "%"
        name = match.group("name") or match.group("pos") or match.group("brace") or ""
        token = "{" + name + "}"
        found[token] += 1
        return token

    return _PLACEHOLDER.sub(rewrite, text), found


def clean_pair(source: str, target: str):
    """One raw catalogue pair -> the cleaned (source, target), or None if it is dropped.

    See the module docstring for the rules, e.g. ("Open %1", "%1 öffnen") -> ("Open {1}",
    "{1} öffnen"); ("%s (%s attribute)", ...) -> None (mostly placeholders).
    """
    sides = []
    for text in (source, target):
        text = " ".join(html.unescape(_TAG.sub("", text)).split())
        sides.append(_placeholders(text))
    (src, src_ph), (tgt, tgt_ph) = sides
    if not src or not tgt or src == tgt or src_ph != tgt_ph:
        return None
    bare = _PLACEHOLDER.sub(" ", src)
    words = re.findall(r"[^\W\d_]+", bare)  # runs of letters: punctuation is not a word
    if sum(map(len, words)) < 3 or sum(src_ph.values()) > len(words):
        return None
    return src, tgt


def _check_target(target):
    if not isinstance(target, str) or not re.fullmatch(r"[a-z]{2,3}", target):
        raise ValueError(f"target must be a language code such as 'zh' or 'de', got {target!r}")


@functools.cache
def _pairs(target: str) -> tuple:
    sources = catalogue_sources(target)
    if not any(s["distribution"].lower().startswith(LANGUAGE_PACK) for s in sources):
        raise LookupError(
            f"no JupyterLab language pack for {target!r} is installed (catalogues found only in "
            f"{[s['distribution'] for s in sources]}); install the one for its language and "
            "region, e.g. pip install jupyterlab-language-pack-de-DE"
        )
    cleaned = {clean_pair(s, t) for src in sources for f in src["files"] for s, t in _read(f)}
    cleaned.discard(None)
    return tuple(sorted(cleaned))


def message_pairs(target: str) -> list[tuple[str, str]]:
    """Cleaned, deduplicated (English, target) message pairs, sorted; the same on every call.

    target: a language code, "zh" (simplified Chinese), "de", "fr", ... Needs the JupyterLab
    language pack of that language installed (LookupError otherwise); read once, then cached.
    Book: chapter 8, "A real translation task".
    """
    _check_target(target)
    return list(_pairs(target))


def split_of_source(source: str, valid: float = 0.1, test: float = 0.1) -> str:
    """ "train", "valid" or "test" from the sha256 of the source: a pure function of the text."""
    u = int.from_bytes(hashlib.sha256(source.encode("utf-8")).digest()[:8], "big") / 2**64
    return "test" if u < test else "valid" if u < test + valid else "train"


def split_pairs(pairs, valid: float = 0.1, test: float = 0.1) -> dict[str, list]:
    """{"train", "valid", "test"} -> pairs, by the hash of each source (split_of_source): every
    translation of one source lands in the same split, whatever the other pairs are.

    pairs: a list of (source, target); valid, test: fractions, >= 0 with valid + test < 1.
    """
    if not (0 <= valid and 0 <= test and valid + test < 1):
        raise ValueError(f"need valid, test >= 0 and valid + test < 1, got {valid}, {test}")
    splits = {"train": [], "valid": [], "test": []}
    for pair in pairs:
        splits[split_of_source(pair[0], valid, test)].append(pair)
    return splits


def load_tab_separated(path) -> list[tuple[str, str]]:
    """Pairs from a Tatoeba / manythings.org file: "source<TAB>target[<TAB>attribution]" lines.

    path: a UTF-8 text file (a BOM is allowed) -> [(source, target)] in file order, whitespace
    collapsed, exact duplicates dropped. Blank lines are skipped; a line without a tab, or with
    an empty side, raises ValueError naming the file and the line number.
    """
    pairs, seen = [], set()
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            source, target = (
                (" ".join(s.split()) for s in fields[:2]) if len(fields) > 1 else ("", "")
            )
            if not source or not target:
                raise ValueError(
                    f"{path}, line {number}: expected 'source<TAB>target[<TAB>attribution]', "
                    f"got {line.rstrip()[:60]!r}"
                )
            if (source, target) not in seen:
                seen.add((source, target))
                pairs.append((source, target))
    return pairs
