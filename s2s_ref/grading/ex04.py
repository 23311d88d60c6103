"""Graded tests of exercise ex04: greedy decoding and beam search with length normalisation.

The learner's decoders run on models given as step functions: random language models whose
next-token distribution depends on the whole prefix (fresh on every run), and small hand-built
tables where beam search must keep two children of one parent, finish hypotheses at EOS and
prefer a longer output once normalised. Known mistakes are named in the feedback.
Book: chapter 4; notebook: ex04_decoding.ipynb.
"""

import numpy as np

from s2s_ref.grading.feedback import Feedback, case, check_array, unpack
from s2s_ref.grading.models import EOS, SOS, StepModel
from s2s_ref.grading.reference import load_private
from s2s_ref.grading.registry import Exercise, Mistake, test_rng

EXERCISE = Exercise(
    key="ex04",
    title="Greedy decoding and beam search",
    notebook="ex04_decoding.ipynb",
    functions=("greedy_decode", "beam_search"),
    hidden_modules=("s2s_ref.decoding", "s2s_ref.numpy_nn.training"),
)
ref = load_private("s2s_ref.decoding")


def random_model(V, seed, temperature=1.5):
    """step(tokens, state) for a random language model of V tokens (see ``grading.models``)."""
    return StepModel("random", V, seed, temperature)


def table_model(table, V):
    """A model given as {prefix: {token: probability}}; the state is (source id, SOS, prefix)."""
    return StepModel("table", V, table=table)


def _start(n):
    """The initial states of n sources: their ids, (n, 1)."""
    return np.arange(n, dtype=np.int64)[:, None]


@EXERCISE.test(points=3, function="greedy_decode")
def greedy_matches_reference(learner):
    """tokens, lengths and log-probabilities of a batch, EOS handled"""
    rng = test_rng()
    n, V, max_len = 5, 5, 7
    A, B = 2, 3
    models = (
        ("", random_model(V, int(rng.integers(2**31)), temperature=0.7)),
        ("when every row finishes early", table_model({(): {A: 0.6, EOS: 0.4},
                                                       (A,): {EOS: 0.9, A: 0.1}}, V)),
        ("when no row finishes", table_model({(A,) * k: {A: 0.7, B: 0.3}
                                              for k in range(max_len)}, V)),
    )  # fmt: skip
    for label, step in models:
        with case(label):
            _check_greedy(learner, step, n, max_len)


def _check_greedy(learner, step, n, max_len):
    result = learner.greedy_decode(step, _start(n), n, SOS, EOS, max_len, -1)
    tokens, lengths, log_probs = unpack(result, "greedy_decode", ("tokens", "lengths", "log_probs"))
    kind = np.asarray(tokens).dtype
    if kind.kind not in "iu":
        raise Feedback(f"tokens have dtype {kind}: token ids are integers (keep them int).")
    want = ref.greedy_decode(step, _start(n), n, SOS, EOS, max_len, -1)
    grown = _greedy_without_stopping(step, n, max_len)
    check_array("tokens", tokens, want[0], shape_hint="(N, longest length)", mistakes={
        "outputs keep growing after EOS: a finished row's later positions hold pad_id.":
        lambda: grown[0][:, : want[0].shape[1]]})  # fmt: skip
    check_array("lengths", lengths, want[1], shape_hint="(N,)")
    check_array("log_probs", log_probs, want[2], shape_hint="(N,)", mistakes={
        "log_probs keep adding after EOS: stop summing once a row has finished.":
        lambda: grown[1]})  # fmt: skip


def _greedy_without_stopping(step, n, max_len):
    tokens, state = np.full(n, SOS), _start(n)
    out, total = [], np.zeros(n)
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        tokens = log_probs.argmax(axis=1)
        out.append(tokens)
        total += log_probs[np.arange(n), tokens]
    return np.stack(out, axis=1), total


def _hypotheses(result, beam_size):
    """The learner's list of (tokens, log_prob, score, finished), checked and normalised."""
    if not isinstance(result, list):
        raise Feedback(f"`beam_search` should return a list, got {type(result).__name__}.")
    if not 0 < len(result) <= beam_size:
        raise Feedback(f"`beam_search` returned {len(result)} hypotheses, expected 1 to "
                       f"beam_size = {beam_size}.")  # fmt: skip
    out = []
    for h in result:
        if not (isinstance(h, tuple) and len(h) == 4):
            raise Feedback("each hypothesis should be a tuple (tokens, log_prob, score, finished), "
                           f"got {h!r:.80}")  # fmt: skip
        tokens, log_prob, score, finished = h
        out.append((tuple(int(t) for t in tokens), float(log_prob), float(score), bool(finished)))
    return out


def _check_beam(got, want, what, mistakes=()):
    """Compare two hypothesis lists; name the first mistake whose output equals the learner's."""
    want = [(h.tokens, h.log_prob, h.score, h.finished) for h in want]
    if _same(got, want):
        return
    if any(EOS in h[0] for h in got):
        raise Feedback(
            f"{what}: a hypothesis contains EOS among its tokens: it was not finished at EOS "
            "(finished hypotheses stop growing, and their tokens exclude EOS)."
        )
    for description, produce in mistakes:
        if _same(got, [(h.tokens, h.log_prob, h.score, h.finished) for h in produce()]):
            raise Feedback(f"{what}: the result matches a known mistake: {description}")
    show = "; ".join(f"{list(h[0])} score {h[2]:.4f}" for h in want[:3])
    mine = "; ".join(f"{list(h[0])} score {h[2]:.4f}" for h in got[:3])
    raise Feedback(f"{what}: expected (best first) {show}; got {mine}.")


def _same(a, b):
    return len(a) == len(b) and all(
        x[0] == y[0] and x[3] == y[3] and np.allclose(x[1:3], y[1:3], rtol=1e-6, atol=1e-9)
        for x, y in zip(a, b, strict=True)
    )


def _reference_beam(step, max_len, K, alpha):
    return ref.beam_search(step, _start(1), 1, SOS, EOS, max_len, K, alpha=alpha)[0]


@EXERCISE.test(points=3, function="beam_search")
def beam_matches_reference(learner):
    """the beam_size best hypotheses of random models, raw log-probability (alpha = 0)"""
    rng = test_rng()
    for K, V, max_len in ((1, 5, 6), (3, 5, 6), (4, 6, 5)):
        step = random_model(V, int(rng.integers(2**31)))
        got = _hypotheses(learner.beam_search(step, _start(1), SOS, EOS, max_len, K, 0.0), K)
        _check_beam(got, _reference_beam(step, max_len, K, 0.0), f"beam {K}")


NO_NORMALISATION = (
    "no length normalisation: divide each score by length_penalty(length, alpha), the length "
    "counting the EOS."
)


@EXERCISE.test(points=2, function="beam_search")
def beam_normalises_length(learner):
    """scores are divided by the GNMT length penalty ((5 + len) / 6) ** alpha"""
    rng = test_rng()
    for alpha in (0.6, 1.5):
        step = random_model(5, int(rng.integers(2**31)))
        got = _hypotheses(learner.beam_search(step, _start(1), SOS, EOS, 6, 3, alpha), 3)
        raw = _reference_beam(step, 6, 3, 0.0)  # what a beam that ignores alpha returns
        want = _reference_beam(step, 6, 3, alpha)
        _check_beam(got, want, f"alpha {alpha}", mistakes=[(NO_NORMALISATION, lambda raw=raw: raw)])


@EXERCISE.test(points=2, function="beam_search")
def beam_keeps_two_children_of_one_parent(learner):
    """the K * V extensions compete together: two children of one parent may both survive"""
    A, B, C, D = 2, 3, 4, 5
    table = {(): {A: 0.9, B: 0.1}, (A,): {C: 0.6, D: 0.4}, (B,): {EOS: 1.0}}
    step = table_model(table, 6)
    got = _hypotheses(learner.beam_search(step, _start(1), SOS, EOS, 3, 2, 0.0), 2)
    if len({(A, C), (A, D)} & {h[0] for h in got}) == 1:
        raise Feedback(
            "the beam keeps only one candidate per parent: rank all K * V extensions together "
            "and keep the K best, whatever their parents."
        )
    _check_beam(got, _reference_beam(step, 3, 2, 0.0), "two children of one parent")


@EXERCISE.test(points=2, function="beam_search")
def beam_finishes_at_eos(learner):
    """a hypothesis that emits EOS is finished and stops growing"""
    A = 2
    table = {(): {A: 0.7, EOS: 0.3}, (A,): {EOS: 0.8, A: 0.2}}
    step = table_model(table, 3)
    got = _hypotheses(learner.beam_search(step, _start(1), SOS, EOS, 6, 3, 0.0), 3)
    _check_beam(got, _reference_beam(step, 6, 3, 0.0), "a model that likes EOS")
    few = table_model({(): {A: 0.5, A + 1: 0.5}, (A,): {EOS: 1.0}, (A + 1,): {EOS: 1.0}}, 4)
    got = _hypotheses(learner.beam_search(few, _start(1), SOS, EOS, 4, 4, 0.0), 4)
    _check_beam(got, _reference_beam(few, 4, 4, 0.0), "fewer possible tokens than beam_size")


# The typical mistakes this grader names: each is put into the solution notebook by the
# mutation suite (tests/test_grading_mistakes.py), which checks that it loses points in the
# function(s) named, with this feedback; the book's appendix "Feedback catalogue" lists them.
EXERCISE.mistakes += [
    Mistake(
        "greedy keeps growing after EOS",
        "greedy_decode",
        {
            "out[alive, t] = tokens[alive]": "out[:, t] = tokens",
        },
        "keep growing after EOS",
    ),
    Mistake(
        "beam hypotheses not finished at EOS",
        "beam_search",
        {
            "if token == eos_id:": "if False:",
        },
        "not finished at EOS",
    ),
    Mistake(
        "no length normalisation",
        "beam_search",
        {
            "lp = length_penalty(t + 1, alpha)": "lp = 1.0",
            "lp = length_penalty(max_len, alpha)": "lp = 1.0",
        },
        "no length normalisation",
    ),
    Mistake(
        "beam keeps one candidate per parent",
        "beam_search",
        {
            "scores = np.array([lp for _, lp in beam])[:, None] + log_probs": (
                "scores = np.array([lp for _, lp in beam])[:, None] + log_probs\n"
                "        scores = np.where(scores == scores.max(axis=1, keepdims=True), "
                "scores, -np.inf)"
            ),
        },
        "keeps only one candidate per parent",
    ),
    Mistake(
        "greedy log-probabilities keep adding after EOS",
        "greedy_decode",
        {
            "log_probs[alive] += step_log_probs[alive, tokens[alive]]": (
                "log_probs += step_log_probs[np.arange(batch_size), tokens]"
            ),
            "        if finished.all():\n            break\n": "",
        },
        "log_probs keep adding after EOS",
    ),
]
