"""The ex08 grader's own cases: learner code that is right in another way (a large negative number
instead of -inf) passes, a mask of another dtype is told so. (Full marks and zero for every
exercise: test_grading_solutions.py; the solution's code is the reference's:
test_grading_sources.py; every typical mistake named by its own label: test_grading_mistakes.py.)"""

import inspect

import numpy as np

from s2s_ref.grading.feedback import Feedback
from s2s_ref.grading.learner import Learner
from s2s_ref.grading.registry import get_exercise, seeded
from s2s_ref.numpy_nn import layer_norm, multihead

EXERCISE = get_exercise("ex08")
MODULES = {"layer_norm_forward": layer_norm, "layer_norm_backward": layer_norm}


def _grade(namespace):
    """{test name: feedback or None} of every ex08 test on the functions of namespace."""
    learner = Learner(namespace)
    results = {}
    for test in EXERCISE.tests:
        try:
            with seeded("ex08", test.name, 0):
                test.run(learner)
        except Feedback as exc:
            results[test.name] = str(exc)
        else:
            results[test.name] = None
    return results


def _as_learner(name, source):
    """The function `name` compiled from `source` as a learner's notebook would define it (the
    grader gives 0 to the package's own functions), with the names its module sees."""
    namespace = dict(vars(MODULES.get(name, multihead)))
    exec(compile(source, "<learner>", "exec"), namespace)
    return namespace[name]


def _reference_namespace():
    """Every graded function, the reference's code written out as a learner's."""
    return {
        n: _as_learner(n, inspect.getsource(getattr(MODULES.get(n, multihead), n)))
        for n in EXERCISE.functions
    }


def test_the_reference_passes_every_test():
    assert _grade(_reference_namespace()) == {t.name: None for t in EXERCISE.tests}


def test_a_large_negative_fill_instead_of_minus_infinity_passes():
    source = inspect.getsource(multihead.multi_head_attention_forward)
    fill = source.replace("np.where(allowed, scores, -np.inf)", "np.where(allowed, scores, -1e30)")
    assert fill != source
    namespace = _reference_namespace()
    namespace["multi_head_attention_forward"] = _as_learner("multi_head_attention_forward", fill)
    results = _grade(namespace)
    assert all(f is None for f in results.values()), results


def test_a_float_causal_mask_is_told_to_be_boolean():
    results = _grade({**_reference_namespace(), "causal_mask": lambda T: np.tril(np.ones((T, T)))})
    (feedback,) = [f for t, f in results.items() if t.startswith("causal_mask")]
    assert "must be boolean" in feedback
