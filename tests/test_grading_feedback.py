"""Honest feedback: every wrong output is reported, a mistake is named only when it explains the
value and the right answer does not, expected and got never read the same, and float32 results
that are right to float32 precision lose at most one point."""

from pathlib import Path

import nbformat
import numpy as np
import pytest

from s2s_ref.grading.feedback import Feedback, Findings, check_array, diagnose, notes
from s2s_ref.grading.runner import grade_notebook

ROOT = Path(__file__).resolve().parents[1]


def test_expected_and_got_never_read_the_same():
    expected = np.full((2, 3), 1.0)
    got = expected.copy()
    got[1, 2] += 3e-9  # differs only in the ninth digit
    with pytest.raises(Feedback) as info:
        check_array("h", got, expected, rtol=0, atol=1e-12)
    text = str(info.value)
    want, have = text.split("(expected ")[1].split(")")[0].split(", got ")
    assert want != have and "index (1, 2)" in text


def test_a_mistake_that_equals_the_reference_on_these_inputs_is_not_named():
    expected = np.arange(6.0).reshape(2, 3)
    same_as_reference = {"the bias is missing": lambda: expected.copy()}
    assert diagnose(expected + 1, {"off by one": lambda: expected + 1}, expected=expected)
    assert diagnose(expected, same_as_reference, expected=expected) is None


def test_every_wrong_output_is_reported():
    rng = np.random.default_rng(3)
    a, b, c = rng.normal(size=(3, 4)), rng.normal(size=5), rng.normal(size=(2, 2))
    found = Findings()
    found.check("dx", a + 1, a)
    found.check("db", b, b)
    found.check("dW", c.T * 2, c)
    with pytest.raises(Feedback) as info:
        found.raise_any()
    assert "dx is wrong" in str(info.value) and "dW is wrong" in str(info.value)
    assert "db" not in str(info.value)


def test_float32_right_to_its_precision_is_a_note_inside_a_test_and_a_failure_outside():
    expected = np.random.default_rng(0).normal(size=(3, 4))
    rounded = expected.astype(np.float32) + np.float32(1e-6)  # a float32 sum's rounding
    with notes() as found:
        check_array("h", rounded, expected)
    assert found and "float32 precision" in found[0] and "at most 1 point" in found[0]
    with pytest.raises(Feedback, match="float32"):
        check_array("h", rounded, expected)


def test_a_float32_function_loses_one_point_with_the_reason(tmp_path):
    nb = nbformat.read(str(ROOT / "solutions" / "ex01_rnn.ipynb"), as_version=4)
    old = "h_next = np.tanh(x @ Wx + h_prev @ Wh + b)"
    for cell in nb.cells:
        cell.source = cell.source.replace(
            old, "h_next = np.tanh(x @ Wx + h_prev @ Wh + b).astype(np.float32) + np.float32(2e-6)"
        )
    path = tmp_path / "ex01_rnn.ipynb"
    nbformat.write(nb, str(path))
    result = grade_notebook(path, "ex01")
    step = next(t for t in result.tests if t.name.startswith("rnn_step_forward"))
    assert step.points == step.max_points - 1 and "float32 precision" in step.feedback
