"""Chapter 8's experiment scripts, the throughput benchmark and the device check, run small."""

import json

import numpy as np
import pytest
import torch

from s2s_ref.bench import device as device_check
from s2s_ref.bench import transformer as bench
from s2s_ref.data.catalogues import message_pairs
from s2s_ref.experiments import transformer_common as common
from s2s_ref.experiments import transformer_encoders as encoders
from s2s_ref.experiments import transformer_forgetting as forgetting
from s2s_ref.experiments import transformer_translation as translation


def test_model_families_are_within_ten_percent_in_size():
    sizes = [common.n_parameters(common.build(k, 14, 14, seed=0)) for k in common.MODELS]
    assert abs(sizes[0] - sizes[1]) / max(sizes) < 0.1
    by_hand = sum(
        int(np.prod(p.shape)) for p in common.build("transformer", 14, 14, 0).parameters()
    )
    assert sizes[1] == by_hand


def test_the_small_pair_of_the_forgetting_curve_is_within_ten_percent_in_size():
    sizes = [
        common.n_parameters(common.build(k, 14, 14, 0, size="small", decoder="luong"))
        for k in common.MODELS
    ]
    assert sizes == [96_722, 97_070]  # as the scripts' docstrings and chapter 8 say
    assert abs(sizes[0] - sizes[1]) / max(sizes) < 0.1


def test_build_rejects_unknown_decoders():
    with pytest.raises(ValueError, match="decoder must be"):
        common.build("gru_attention", 14, 14, 0, decoder="plain")


def test_encoder_summary_is_mean_min_max_over_seeds():
    rows = [{"encoder": "recurrent", "accuracy": {"10": {"token": t}}} for t in (0.2, 0.5, 0.8)]
    assert encoders.summary(rows) == {"recurrent": {"10": {"mean": 0.5, "min": 0.2, "max": 0.8}}}


def test_the_budget_arguments_refuse_impossible_values(capsys):
    with pytest.raises(SystemExit):
        encoders.main(["--seeds", "1,1"])
    assert "distinct seeds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        forgetting.main(["--budget", "0"])
    assert "finite number > 0" in capsys.readouterr().err


def test_build_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="model kind must be one of"):
        common.build("lstm", 14, 14, 0)
    with pytest.raises(ValueError, match="size must be"):
        common.build("transformer", 14, 14, 0, size="huge")


@pytest.mark.parametrize("text", ["0", "-3", "abc", "nan"])
def test_positive_rejects_what_is_not_a_positive_number(text):
    with pytest.raises(Exception, match="expected"):
        common.positive(float)(text)


def test_seed_list():
    assert common.seed_list("2,0,5") == [2, 0, 5]
    for bad in ("1,1", "-1", "a,b", ""):
        with pytest.raises(Exception, match="expected"):
            common.seed_list(bad)


@pytest.mark.parametrize("script", [forgetting, encoders])
def test_scripts_check_the_output_folder_before_training(script, tmp_path, capsys):
    with pytest.raises(SystemExit):
        script.main(["--budget", "1", "--out", str(tmp_path / "no_such_folder" / "r.json")])
    assert "--out" in capsys.readouterr().err


def test_translation_rejects_an_unknown_language(capsys):
    with pytest.raises(SystemExit):
        translation.main(["--target", "xx"])
    assert "invalid choice" in capsys.readouterr().err


def test_scores_of_a_perfect_and_a_copy_output():
    refs = ["Alle Zellen im Notizbuch speichern", "Die markierte Zelle jetzt löschen"]
    assert translation.scores(refs, refs, "13a") == {"bleu": 100.0, "chrf": 100.0}
    assert translation.scores(["x", "y"], refs, "13a")["chrf"] < 10


@pytest.mark.parametrize("kind", encoders.ENCODERS)
def test_encoders_ignore_padding(kind):
    """The oracle: each sequence encoded alone, without padding."""
    torch.manual_seed(3)
    enc = encoders.make_encoder(kind, 14).eval()
    lengths = [7, 4, 5]
    rows = [torch.randint(4, 14, (L,)) for L in lengths]
    src = torch.zeros(3, 7, dtype=torch.long)
    mask = torch.zeros(3, 7, dtype=torch.bool)
    for i, r in enumerate(rows):
        src[i, : len(r)], mask[i, : len(r)] = r, True
    with torch.no_grad():
        out, summary = enc(src, mask)
        assert out.shape == (3, 7, enc.out_size) and summary.shape == (3, enc.out_size)
        for i, r in enumerate(rows):
            alone, s = enc(r[None], torch.ones(1, len(r), dtype=torch.bool))
            torch.testing.assert_close(out[i, : len(r)], alone[0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(summary[i], s[0], atol=1e-5, rtol=1e-5)
            assert (out[i, len(r) :] == 0).all()


def test_conv_encoder_needs_an_odd_kernel():
    with pytest.raises(ValueError, match="kernel must be odd"):
        encoders.ConvEncoder(14, 16, kernel=4)


def test_forgetting_and_encoder_runs_report_what_they_did():
    row = forgetting.run_one("transformer", 0.3, seed=1, n_train=200, lengths=(6,), max_len=8)
    assert row["parameters"] > 0 and row["steps"] >= 1 and 0 <= row["accuracy"]["6"]["token"] <= 1
    row = encoders.run_one("convolutional", 0.3, seed=1, n_train=200, lengths=(6,))
    assert row["encoder_parameters"] < row["parameters"] and row["tokens_per_cpu_s"] > 0


def test_translation_run_writes_results(tmp_path):
    try:
        message_pairs("de")
    except LookupError:
        pytest.skip("the German JupyterLab language pack is not installed")
    out = tmp_path / "t.json"
    translation.main(["--target", "de", "--budget", "0.3", "--seeds", "0", "--out", str(out)])
    res = json.loads(out.read_text(encoding="utf-8"))
    assert res["splits"]["test"]["kept"] <= res["splits"]["test"]["all"]
    assert {m["model"] for m in res["models"]} == set(common.MODELS)
    attention = np.array(res["models"][0]["attention"]["weights"])
    np.testing.assert_allclose(attention.sum(axis=1), 1.0, atol=0.01)  # rows of weights


def test_translation_saves_its_best_model(tmp_path):
    try:
        message_pairs("de")
    except LookupError:
        pytest.skip("the German JupyterLab language pack is not installed")
    prefix = str(tmp_path / "model")
    translation.main(["--target", "de", "--budget", "0.3", "--seeds", "0", "--models",
                      "transformer", "--out", str(tmp_path / "t.json"), "--save", prefix])  # fmt: skip
    meta = json.loads((tmp_path / "model.json").read_text(encoding="utf-8"))
    weights = np.load(prefix + ".npz")
    built = common.build("transformer", len(meta["source_symbols"]) + 4,
                         len(meta["target_symbols"]) + 4, 0)  # fmt: skip
    assert sorted(weights.files) == sorted(built.state_dict())
    assert meta["model"] == "transformer" and len(meta["samples"]) >= 3


def test_throughput_benchmark_measures_both_models():
    rows = bench.throughput(min_len=3, max_len=5, steps=1, rounds=1)
    assert set(rows) == set(common.MODELS)
    assert all(r["tokens_per_cpu_s"] > 0 and r["tokens_per_s"] > 0 for r in rows.values())


def test_throughput_benchmark_validates_arguments(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--min-len", "9", "--max-len", "3"])
    assert "exceeds" in capsys.readouterr().err


def test_device_check_reads_the_pins_without_torch(tmp_path):
    pins = dict(device_check.pinned_requirements())
    assert "torch" not in pins and pins["numpy"]
    bad = tmp_path / "requirements.txt"
    bad.write_text("numpy==2\nnot a pin\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: expected name==version"):
        device_check.pinned_requirements(bad)
    assert device_check.missing([("numpy", "0"), ("no-such-dist-xyz", "1.0")]) == [
        "no-such-dist-xyz==1.0"
    ]


def test_device_check_without_cuda(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_check, "missing", lambda pins: [])
    assert device_check.main([]) == 0
    assert "no CUDA device" in capsys.readouterr().out
    assert device_check.main(["--require-cuda"]) == 2


def test_device_check_lists_missing_dependencies_without_installing(monkeypatch, capsys):
    monkeypatch.setattr(device_check, "missing", lambda pins: ["nothing-here==1.0"])
    monkeypatch.setattr(device_check, "install", lambda specs: pytest.fail("installed"))
    assert device_check.main(["--no-install"]) == 3
    assert "nothing-here==1.0" in capsys.readouterr().out


def test_device_check_validates_steps(capsys):
    with pytest.raises(SystemExit):
        device_check.parse_args(["--steps", "0"])
    assert "--steps" in capsys.readouterr().err


def test_the_self_attention_encoder_weighs_embeddings_and_positions_alike():
    """Reversal needs positions: the scaled embedding must not drown the sinusoidal encoding
    (both of size about 1 per feature, as in the Transformer), nor should padding leak out."""
    torch.manual_seed(0)
    enc = encoders.SelfAttentionEncoder(12, encoders.C)
    scaled = enc.embedding.weight.detach() * encoders.C**0.5
    assert 0.8 < float(scaled.std()) < 1.2  # the positional encoding's entries have RMS 0.71
    src = torch.randint(1, 12, (3, 9))
    mask = torch.arange(9)[None] < torch.tensor([[9], [4], [1]])
    out, summary = enc(src, mask)
    assert out.shape == (3, 9, encoders.C) and summary.shape == (3, encoders.C)
    assert torch.all(out[~mask] == 0)
