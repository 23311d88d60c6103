"""The play page's shipped translator: it loads from the package's assets, and reproduces the
greedy and beam translations the training run itself decoded for held-out sentences (another code
path: batched, in the experiment), deterministically."""

import pytest

pytest.importorskip("torch")

from s2s_ref.assets import names  # noqa: E402
from s2s_ref.experiments.translator import Translator  # noqa: E402


@pytest.fixture(scope="module")
def translator():
    return Translator()


def test_the_assets_are_shipped_and_small():
    assert {"translator_de.json", "translator_de.npz"} <= set(names())


def test_held_out_sentences_translate_as_in_the_training_run(translator):
    samples = translator.meta["samples"]
    assert len(samples) >= 3
    for s in samples[:3]:
        assert translator.translate(s["source"]) == s["greedy"]
        assert translator.translate(s["source"], beam=4) == s["beam"]


def test_translating_twice_gives_the_same_text(translator):
    sentence = "Open the settings"
    first = translator.translate(sentence)
    assert isinstance(first, str) and first == translator.translate(sentence)


@pytest.mark.parametrize("bad, match", [("", "non-empty sentence"), (3, "non-empty sentence")])
def test_bad_input_gets_a_sentence(translator, bad, match):
    with pytest.raises(ValueError, match=match):
        translator.translate(bad)


def test_a_bad_beam_gets_a_sentence(translator):
    with pytest.raises(ValueError, match="beam must be None"):
        translator.translate("Save", beam=0)
