"""Number words: English words -> German words or digits, written by ``num2words``.

German puts the units before the tens ("vierundzwanzig" = four-and-twenty for 24) and writes a
number as one long compound, so English -> German needs crossing alignments: the first German
morpheme ("vier") matches the last English word ("four"). To make that visible at word level the
German compound is split into its number morphemes ("vier und zwanzig") by longest match against
a fixed lexicon; ``"".join`` of the morphemes gives num2words' spelling back.
The held-out split hashes the number, so a test number never appears in training.
Book: chapter 3, "Tasks"; chapter 7 reads its attention maps.
"""

import re

from num2words import num2words

from s2s_ref.data.splits import check_count, draw_in_split

GERMAN_MORPHEMES = (
    "null eins ein zwei drei vier fünf sechs sieben acht neun zehn elf zwölf "
    "dreizehn vierzehn fünfzehn sechzehn siebzehn achtzehn neunzehn "
    "zwanzig dreißig vierzig fünfzig sechzig siebzig achtzig neunzig hundert tausend und"
).split()
_BY_LENGTH = sorted(GERMAN_MORPHEMES, key=len, reverse=True)
TARGETS = ("de", "digits")
LEVELS = ("word", "char")


def english_words(k: int) -> list[str]:
    """num2words' English words for k, split at spaces and hyphens, commas dropped.

    e.g. 124 -> ["one", "hundred", "and", "twenty", "four"]
    """
    return re.findall(r"[a-z]+", num2words(k, lang="en"))


def german_morphemes(k: int) -> list[str]:
    """num2words' German spelling of k, split into number morphemes by longest match.

    e.g. 124 -> ["ein", "hundert", "vier", "und", "zwanzig"]
    """
    word, out = num2words(k, lang="de"), []
    while word:
        piece = next((m for m in _BY_LENGTH if word.startswith(m)), None)
        if piece is None:
            raise ValueError(f"german_morphemes: cannot split {word!r} (from {k}) into morphemes")
        out.append(piece)
        word = word[len(piece) :]
    return out


def number_pair(k: int, target: str = "de", level: str = "word") -> tuple[list, list]:
    """(source tokens, target tokens) for the number k.

    target: "de" (German) or "digits"; level: "word" (English words, German morphemes) or
    "char" (characters, spaces included); digits are always one token per digit.
    """
    if target not in TARGETS or level not in LEVELS:
        raise ValueError(
            f"number_pair: target in {TARGETS} and level in {LEVELS}, got {target!r}, {level!r}"
        )
    src = english_words(k)
    if target == "digits":
        tgt = list(str(k))
    else:
        tgt = german_morphemes(k) if level == "word" else list("".join(german_morphemes(k)))
    if level == "char":
        src = list(" ".join(src))
    return src, tgt


def make_numbers(
    n, rng, target="de", level="word", low=0, high=10_000, split="train", test_fraction=0.1
):
    """n (English number words, German words or digits) pairs, numbers uniform in [low, high).

    rng: numpy.random.Generator; target, level: as in ``number_pair``; 0 <= low < high <= 10**6
    (num2words says "eine Million" past that, outside the morpheme lexicon).
    """
    n = check_count("make_numbers", n)
    if not 0 <= low < high <= 10**6:
        raise ValueError(f"make_numbers: need 0 <= low < high <= 10**6, got low={low}, high={high}")
    number_pair(low, target, level)  # reject bad target/level before drawing

    def draw():
        return int(rng.integers(low, high))

    numbers = draw_in_split(draw, str, n, split, test_fraction, max_tries=max(1000, 50 * n))
    return [number_pair(k, target, level) for k in numbers]
