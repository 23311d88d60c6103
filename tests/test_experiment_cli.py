"""Experiments' command lines: impossible arguments end in a sentence and exit status 2 (never a
traceback), the output is checked before any work, and results are written atomically."""

import json
import subprocess
import sys

import pytest

from s2s_ref.experiments import cli, long_gap

BAD_ARGUMENTS = [
    ("dates_torch", ["--budget", "0"], "--budget: expected a finite number > 0"),
    ("dates_torch", ["--budget", "nan"], "--budget: expected a finite number > 0"),
    ("dates_torch", ["--seed", "-1"], "--seed: expected a seed, an integer >= 0"),
    ("dates_torch", ["--out", "MISSING/r.json"], "the folder MISSING"),
    ("long_gap", ["--steps", "0"], "--steps: expected an integer >= 1"),
    ("long_gap", ["--seeds", "two"], "--seeds: expected int number"),
    ("long_gap", ["--out", "MISSING/r.json"], "the folder MISSING"),
    ("numbers_torch", ["--budget", "-5"], "--budget: expected a finite number > 0"),
    ("forgetting_torch", ["--seed", "-2"], "--seed: expected a seed"),
    ("forgetting_curve", ["--steps", "-1"], "--steps: expected an integer >= 1"),
    ("forgetting_curve", ["--out", "MISSING/r.json"], "the folder MISSING"),
    ("digits_rows", ["--seeds", "0,-1"], "--seeds: expected a seed"),
    ("digits_rows", ["--epochs", "0"], "--epochs: expected an integer >= 1"),
    ("reversal_lengths", ["--out", "MISSING/r.json"], "the folder MISSING"),
    ("teacher_forcing", ["--out", "MISSING/r.json"], "the folder MISSING"),
    ("dates_numpy", ["--out", "MISSING/r.json"], "the folder MISSING"),
    ("dates_numpy", ["--weights", "MISSING/w.npz"], "the folder MISSING"),
]


@pytest.mark.parametrize("module, args, message", BAD_ARGUMENTS)
def test_impossible_arguments_are_a_sentence_and_exit_2(tmp_path, module, args, message):
    missing = str(tmp_path / "missing")  # a folder that does not exist
    args = [a.replace("MISSING", missing) for a in args]
    message = message.replace("MISSING", missing)
    done = subprocess.run(
        [sys.executable, "-m", f"s2s_ref.experiments.{module}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_long_gap_run_refuses_zero_steps():
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got 0"):
        long_gap.run("gru", 5, 0, steps=0)


def test_results_are_written_whole_and_a_missing_folder_is_refused(tmp_path):
    target = tmp_path / "r.json"
    cli.write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cli.write_json(tmp_path / "missing" / "r.json", {})


def test_dates_torch_validation_dates_never_occur_in_training():
    from s2s_ref.experiments.dates_torch import make_data

    _, train, val, test = make_data(0, n_train=4000, n_val=400, n_test=200)
    assert (len(train), len(val), len(test)) == (4000, 400, 200)
    dates = [{"".join(t) for _, t in pairs} for pairs in (train, val, test)]
    assert not dates[0] & dates[1] and not dates[0] & dates[2] and not dates[1] & dates[2]
    again = make_data(0, n_train=4000, n_val=400, n_test=200)
    assert again[1:] == (train, val, test)  # the same draws on every call


# The experiments, as a table (kept out of the formatter: one line is easier to scan).
EXPERIMENTS = ["dates_numpy", "dates_torch", "digits_rows", "forgetting_curve", "forgetting_torch",
               "long_gap", "numbers_torch", "reversal_lengths", "teacher_forcing",
               "transformer_encoders", "transformer_forgetting"]  # fmt: skip


@pytest.mark.parametrize("module", EXPERIMENTS)
def test_every_experiment_writes_its_results_file_by_default_and_it_is_committed(module):
    done = subprocess.run(
        [sys.executable, "-m", f"s2s_ref.experiments.{module}", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"s2s_ref/experiments/results/{module}.json" in " ".join(done.stdout.split())
    assert cli.results_path(module).is_file()
    assert cli.load_results(module), f"{module}'s committed results are empty"


def test_results_names_are_checked_and_a_missing_one_names_its_file():
    assert cli.results_path("long_gap") == cli.RESULTS / "long_gap.json"
    for bad in ("../long_gap", "long_gap.json", "", "a b"):
        with pytest.raises(ValueError, match="a results name is letters, digits and underscores"):
            cli.results_path(bad)
    with pytest.raises(FileNotFoundError, match=r"writes s2s_ref/experiments/results/nope\.json"):
        cli.load_results("nope")


def test_nothing_but_results_lies_in_the_results_folder():
    names = sorted(p.name for p in cli.RESULTS.iterdir())
    assert names and all(n.endswith(".json") for n in names), names


# A table (kept out of the formatter): one impossible field and its sentence per row.
@pytest.mark.parametrize(
    "module, config, field, value, message",
    [
        ("dates_numpy", "DatesConfig", "steps", 0, "DatesConfig.steps should be an integer >= 1"),
        ("dates_numpy", "DatesConfig", "seed", -1, "DatesConfig.seed should be an integer >= 0"),
        ("cli", "ReversalConfig", "hidden", 2.5, "ReversalConfig.hidden should be an integer"),
        ("cli", "ReversalConfig", "lr", float("inf"), "ReversalConfig.lr should be a finite"),
        ("cli", "ReversalConfig", "batch", True, "ReversalConfig.batch should be an integer"),
    ],
)  # fmt: skip
def test_experiment_configurations_refuse_impossible_fields(module, config, field, value, message):
    import importlib

    cls = getattr(importlib.import_module(f"s2s_ref.experiments.{module}"), config)
    assert cls().seed == 0  # the defaults are valid
    with pytest.raises(ValueError, match=message):
        cls(**{field: value})
