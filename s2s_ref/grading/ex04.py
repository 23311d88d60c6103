"""Graded tests of exercise ex04: greedy decoding and beam search with length normalisation.

The learner's decoders run on models given as step functions: random language models whose
next-token distribution depends on the whole prefix (fresh on every run), and small hand-built
tables where beam search must keep two children of one parent, finish hypotheses at EOS and
prefer a longer output once normalised. Known mistakes are named in the feedback.
Book: chapter 4; notebook: ex04_decoding.ipynb.
"""

import numpy as np

from s2s_ref.grading.feedback import Feedback
from s2s_ref.grading.models import EOS, SOS, StepModel
from s2s_ref.grading.registry import Exercise, test_rng
from s2s_ref.grading.spec import Case, Spec

EXERCISE = Exercise(
    key="ex04",
    title="Greedy decoding and beam search",
    notebook="ex04_decoding.ipynb",
    functions=("greedy_decode", "beam_search"),
    hidden_modules=("s2s_ref.decoding", "s2s_ref.numpy_nn.training"),
)


def _one_source(beam_search):
    def one(step, state, sos_id, eos_id, max_len, beam_size, alpha=0.0):
        hypotheses = beam_search(step, state, 1, sos_id, eos_id, max_len, beam_size, alpha=alpha)
        return [(h.tokens, h.log_prob, h.score, h.finished) for h in hypotheses[0]]

    return one


SPEC = Spec(
    EXERCISE,
    references=("s2s_ref.decoding",),
    returns={"greedy_decode": ("tokens", "lengths", "log_probs")},
    # the reference decodes a batch of sources: the exercise's beam search decodes one
    adapt={"beam_search": lambda module: _one_source(module.beam_search)},
)


def random_model(V, seed, temperature=1.5):
    """step(tokens, state) for a random language model of V tokens (see ``grading.models``)."""
    return StepModel("random", V, seed, temperature)


def table_model(table, V):
    """A model given as {prefix: {token: probability}}; the state is (source id, SOS, prefix)."""
    return StepModel("table", V, table=table)


def _start(n):
    """The initial states of n sources: their ids, (n, 1)."""
    return np.arange(n, dtype=np.int64)[:, None]


def greedy_inputs(rng, model):
    """A batch of 5 sources, max_len 7, and a model: random (fresh each run) or a fixed table."""
    A, B = 2, 3
    tables = {
        "early": {(): {A: 0.6, EOS: 0.4}, (A,): {EOS: 0.9, A: 0.1}},
        "never": {(A,) * k: {A: 0.7, B: 0.3} for k in range(7)},
    }
    seed = int(rng.integers(2**31))
    step = (
        random_model(5, seed, temperature=0.7)
        if model == "random"
        else table_model(tables[model], 5)
    )
    return dict(step=step, n=5, max_len=7)


@SPEC.test(
    points=3,
    function="greedy_decode",
    inputs=greedy_inputs,
    cases=(
        Case(sizes=dict(model="random")),
        Case("when every row finishes early", dict(model="early")),
        Case("when no row finishes", dict(model="never")),
    ),
    outputs={"tokens": "(N, longest length)", "lengths": "(N,)", "log_probs": "(N,)"},
    integers=("tokens",),
)
def greedy_matches_reference(F, p):
    """tokens, lengths and log-probabilities of a batch, EOS handled"""
    return F.greedy_decode(p["step"], _start(p["n"]), p["n"], SOS, EOS, p["max_len"], -1)


def _adding_after_eos(F):
    """greedy_decode whose log-probabilities keep adding after EOS (and run to max_len)."""

    def greedy_decode(step, state, batch_size, sos_id, eos_id, max_len, pad_id=0):
        tokens, lengths, _ = F.greedy_decode(
            step, state, batch_size, sos_id, eos_id, max_len, pad_id
        )
        fed, total = np.full(batch_size, sos_id), np.zeros(batch_size)
        for _ in range(max_len):
            log_probs, state = step(fed, state)
            fed = log_probs.argmax(axis=1)
            total += log_probs[np.arange(batch_size), fed]
        return tokens, lengths, total

    return {"greedy_decode": greedy_decode}


def _hypotheses(result, beam_size):
    """The learner's list of (tokens, log_prob, score, finished), checked and normalised."""
    if not isinstance(result, list):
        raise Feedback(f"`beam_search` should return a list, got {type(result).__name__}.")
    if not 0 < len(result) <= beam_size:
        raise Feedback(
            f"`beam_search` returned {len(result)} hypotheses, expected 1 to "
            f"beam_size = {beam_size}."
        )
    out = []
    for h in result:
        if not (isinstance(h, tuple) and len(h) == 4):
            raise Feedback(
                "each hypothesis should be a tuple (tokens, log_prob, score, finished), "
                f"got {h!r:.80}"
            )
        tokens, log_prob, score, finished = h
        out.append((tuple(int(t) for t in tokens), float(log_prob), float(score), bool(finished)))
    return out


def _check_beam(got, want, what, mistakes=()):
    """Compare two hypothesis lists; name the first mistake whose output equals the learner's."""
    if _same(got, want):
        return
    if any(EOS in h[0] for h in got):
        raise Feedback(f"{what}: {SPEC.message('beam hypotheses not finished at EOS')}")
    for description, wrong in mistakes:
        if _same(got, wrong):
            raise Feedback(f"{what}: the result matches a known mistake: {description}")
    show = "; ".join(f"{list(h[0])} score {h[2]:.4f}" for h in want[:3])
    mine = "; ".join(f"{list(h[0])} score {h[2]:.4f}" for h in got[:3])
    raise Feedback(f"{what}: expected (best first) {show}; got {mine}.")


def _same(a, b):
    return len(a) == len(b) and all(
        x[0] == y[0] and x[3] == y[3] and np.allclose(x[1:3], y[1:3], rtol=1e-6, atol=1e-9)
        for x, y in zip(a, b, strict=True)
    )


def _reference_beam(step, max_len, K, alpha, functions=SPEC.reference):
    return functions.beam_search(step, _start(1), SOS, EOS, max_len, K, alpha)


@EXERCISE.test(points=3, function="beam_search")
def beam_matches_reference(learner):
    """the beam_size best hypotheses of random models, raw log-probability (alpha = 0)"""
    rng = test_rng()
    for K, V, max_len in ((1, 5, 6), (3, 5, 6), (4, 6, 5)):
        step = random_model(V, int(rng.integers(2**31)))
        got = _hypotheses(learner.beam_search(step, _start(1), SOS, EOS, max_len, K, 0.0), K)
        _check_beam(got, _reference_beam(step, max_len, K, 0.0), f"beam {K}")


@EXERCISE.test(points=2, function="beam_search")
def beam_normalises_length(learner):
    """scores are divided by the GNMT length penalty ((5 + len) / 6) ** alpha"""
    rng = test_rng()
    for alpha in (0.6, 1.5):
        step = random_model(5, int(rng.integers(2**31)))
        got = _hypotheses(learner.beam_search(step, _start(1), SOS, EOS, 6, 3, alpha), 3)
        want = _reference_beam(step, 6, 3, alpha)
        unnormalised = _reference_beam(step, 6, 3, alpha, SPEC.with_mistake(NO_NORMALISATION))
        _check_beam(got, want, f"alpha {alpha}", [(NO_NORMALISATION.feedback, unnormalised)])


@EXERCISE.test(points=2, function="beam_search")
def beam_keeps_two_children_of_one_parent(learner):
    """the K * V extensions compete together: two children of one parent may both survive"""
    A, B, C, D = 2, 3, 4, 5
    table = {(): {A: 0.9, B: 0.1}, (A,): {C: 0.6, D: 0.4}, (B,): {EOS: 1.0}}
    step = table_model(table, 6)
    got = _hypotheses(learner.beam_search(step, _start(1), SOS, EOS, 3, 2, 0.0), 2)
    if len({(A, C), (A, D)} & {h[0] for h in got}) == 1:
        raise Feedback(SPEC.message("beam keeps one candidate per parent"))
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


# The catalogue: each patch goes into solutions/ex04_decoding.ipynb by the mutation suite and,
# where the reference (batched, validating every step's output) has the solution's code, into the
# reference to simulate it; the beam tests' own checks name the rest. The book's appendix
# "Feedback catalogue" lists them.
SPEC.mistake(
    "greedy keeps growing after EOS",
    "greedy_decode",
    {"out[alive, t] = tokens[alive]": "out[:, t] = tokens"},
    "outputs keep growing after EOS: a finished row's later positions hold pad_id.",
)
SPEC.mistake(
    "greedy log-probabilities keep adding after EOS",
    "greedy_decode",
    {
        "log_probs[alive] += step_log_probs[alive, tokens[alive]]": (
            "log_probs += step_log_probs[np.arange(batch_size), tokens]"
        ),
        "        if finished.all():\n            break\n": "",
    },
    "log_probs keep adding after EOS: stop summing once a row has finished.",
    simulate=_adding_after_eos,
)
SPEC.mistake(
    "beam hypotheses not finished at EOS",
    "beam_search",
    {"if token == eos_id:": "if False:"},
    "a hypothesis contains EOS among its tokens: it was not finished at EOS (finished hypotheses "
    "stop growing, and their tokens exclude EOS).",
)
NO_NORMALISATION = SPEC.mistake(
    "no length normalisation",
    "beam_search",
    {
        "lp = length_penalty(t + 1, alpha)": "lp = 1.0",
        "lp = length_penalty(max_len, alpha)": "lp = 1.0",
    },
    "no length normalisation: divide each score by length_penalty(length, alpha), the length "
    "counting the EOS.",
    simulate=lambda F: {
        "beam_search": lambda step, state, sos, eos, max_len, K, alpha=0.0: F.beam_search(
            step, state, sos, eos, max_len, K, 0.0
        )
    },
)
SPEC.mistake(
    "beam keeps one candidate per parent",
    "beam_search",
    {
        "scores = np.array([lp for _, lp in beam])[:, None] + log_probs": (
            "scores = np.array([lp for _, lp in beam])[:, None] + log_probs\n"
            "        scores = np.where(scores == scores.max(axis=1, keepdims=True), "
            "scores, -np.inf)"
        ),
    },
    "the beam keeps only one candidate per parent: rank all K * V extensions together and keep "
    "the K best, whatever their parents.",
    simulate=lambda F: {},  # named by the test with two children of one parent
)
