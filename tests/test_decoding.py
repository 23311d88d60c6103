"""Greedy decoding and beam search against exhaustive search and hand-built models."""

import itertools

import numpy as np
import pytest

from s2s_ref.decoding import Hypothesis, beam_search, gather_state, greedy_decode, length_penalty

SOS, EOS = 0, 1  # tiny vocabularies below: id 0 is SOS (never predicted), id 1 is EOS


def random_model(V, seed):
    """A history-dependent language model: log-probs drawn from a seed made of the prefix.

    The state is the prefix so far, (B, t); the distribution depends on the whole prefix and the
    batch row (the "source"), and it is the same whatever order prefixes are asked in.
    """

    def dist(row, prefix):
        logits = np.random.default_rng([seed, row, *prefix]).normal(size=V) * 2.0
        logits[SOS] = -np.inf
        return logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()

    def step(tokens, state):
        rows, prefix = state
        prefix = np.concatenate([prefix, tokens[:, None]], axis=1)
        log_probs = np.stack([dist(r, p[1:].tolist()) for r, p in zip(rows, prefix, strict=True)])
        return log_probs, (rows, prefix)

    return step, dist


def exhaustive(dist, row, V, max_len, alpha, penalty):
    """Every output: non-EOS tokens then EOS, or max_len non-EOS tokens; best score first."""
    outs = []
    for length in range(max_len + 1):
        for seq in itertools.product(range(2, V), repeat=length):
            ends = length < max_len
            logp = sum(dist(row, list(seq[:i]))[seq[i]] for i in range(length))
            if ends:
                logp += dist(row, list(seq))[EOS]
            lp = length_penalty(length + ends, alpha, penalty)
            outs.append((logp / lp, seq, ends))
    return sorted(outs, key=lambda o: -o[0])


def start(n):
    return (np.arange(n), np.zeros((n, 0), dtype=np.int64))


@pytest.mark.parametrize("alpha, penalty", [(0.0, "gnmt"), (0.7, "gnmt"), (1.0, "power")])
def test_a_beam_as_wide_as_the_search_space_is_exhaustive_search(alpha, penalty):
    V, max_len, n = 4, 4, 3
    step, dist = random_model(V, seed=7)
    K = V**max_len  # wider than the number of candidates at any step: nothing is pruned
    results = beam_search(step, start(n), n, SOS, EOS, max_len, K, alpha=alpha, penalty=penalty)
    for row, hyps in enumerate(results):
        truth = exhaustive(dist, row, V, max_len, alpha, penalty)
        assert hyps[0].tokens == truth[0][1] and hyps[0].finished == truth[0][2]
        np.testing.assert_allclose([h.score for h in hyps[:10]], [o[0] for o in truth[:10]])


def test_beam_of_one_is_greedy():
    V, n = 6, 5
    step, _ = random_model(V, seed=3)
    tokens, lengths, logp = greedy_decode(step, start(n), n, SOS, EOS, max_len=7)
    for row, [hyp] in enumerate(beam_search(step, start(n), n, SOS, EOS, 7, beam_size=1)):
        ids = tokens[row, : lengths[row]].tolist()
        assert list(hyp.tokens) == [i for i in ids if i != EOS]
        assert hyp.finished == (EOS in ids)
        np.testing.assert_allclose(hyp.log_prob, logp[row])


def table_model(table, V):
    """A model given as {prefix tuple: {token: probability}}; the state is the prefix."""

    def step(tokens, state):
        prefixes = [(*p, int(t)) if t != SOS else p for p, t in zip(state, tokens, strict=True)]
        log_probs = np.full((len(prefixes), V), -np.inf)
        for i, p in enumerate(prefixes):
            for tok, prob in table.get(p, {EOS: 1.0}).items():
                log_probs[i, tok] = np.log(prob)
        return log_probs, prefix_state(prefixes)

    return step


def prefix_state(prefixes):
    """A (B,) object array of prefix tuples: a state that gather_state can index."""
    state = np.empty(len(prefixes), dtype=object)
    state[:] = [tuple(p) for p in prefixes] if prefixes else []
    return state


def test_beam_beats_greedy_on_a_constructed_model():
    # greedy takes 2 (0.6) and then must pick among three 1/3 tokens; the path 3 -> EOS has
    # probability 0.4 * 0.9 = 0.36 > 0.6 * 1/3 * 1 = 0.2
    A, B, C, D = 2, 3, 4, 5
    table = {(): {A: 0.6, B: 0.4}, (A,): {C: 1 / 3, D: 1 / 3, B: 1 / 3}, (B,): {EOS: 0.9, C: 0.1}}
    step = table_model(table, V=6)
    state = prefix_state([()])
    tokens, lengths, greedy_logp = greedy_decode(step, state, 1, SOS, EOS, max_len=5)
    assert tokens[0, 0] == A and np.isclose(np.exp(greedy_logp[0]), 0.2)
    [[best, *_]] = beam_search(step, state, 1, SOS, EOS, 5, beam_size=2)
    assert best.tokens == (B,) and best.finished and np.isclose(np.exp(best.log_prob), 0.36)


def test_two_children_of_one_parent_can_both_survive():
    A, B, C, D = 2, 3, 4, 5
    table = {(): {A: 0.9, B: 0.1}, (A,): {C: 0.5, D: 0.5}, (B,): {EOS: 1.0}}
    state = prefix_state([()])
    hyps = beam_search(table_model(table, 6), state, 1, SOS, EOS, 3, beam_size=2)[0]
    assert {h.tokens for h in hyps} == {(A, C), (A, D)}  # both from parent A: 0.45 each > 0.1


def test_finished_hypotheses_stop_growing_and_greedy_pads_after_eos():
    A = 2
    table = {(): {A: 0.7, EOS: 0.3}, (A,): {EOS: 0.8, A: 0.2}}
    state = prefix_state([(), ()])
    step = table_model(table, V=3)
    tokens, lengths, _ = greedy_decode(step, state, 2, SOS, EOS, max_len=6, pad_id=-1)
    np.testing.assert_array_equal(tokens, [[A, EOS], [A, EOS]])
    np.testing.assert_array_equal(lengths, [2, 2])
    hyps = beam_search(step, state, 2, SOS, EOS, 6, beam_size=3)[0]
    assert all(h.finished and EOS not in h.tokens for h in hyps)
    assert [h.tokens for h in hyps] == [(A,), (), (A, A)]
    np.testing.assert_allclose(
        [np.exp(h.log_prob) for h in hyps], [0.56, 0.3, 0.7 * 0.2 * 1.0]
    )  # unknown prefix: EOS


def test_max_len_returns_unfinished_hypotheses():
    table = {(): {2: 1.0}, (2,): {2: 1.0}, (2, 2): {2: 1.0}}
    step = table_model(table, V=3)
    [hyp] = beam_search(step, prefix_state([()]), 1, SOS, EOS, 3, beam_size=1)[0]
    assert hyp == Hypothesis((2, 2, 2), 0.0, 0.0, False)
    tokens, lengths, _ = greedy_decode(step, prefix_state([()]), 1, SOS, EOS, 3)
    assert tokens.tolist() == [[2, 2, 2]] and lengths.tolist() == [3]


def test_length_normalisation_changes_the_winner():
    # short: EOS at once, p = 0.5, length 1; long: A A A EOS, p = 0.5 * 0.8 * 0.8, length 4
    A = 2
    table = {
        (): {EOS: 0.5, A: 0.5},
        (A,): {A: 0.8, EOS: 0.2},
        (A, A): {A: 0.8, EOS: 0.2},
        (A, A, A): {EOS: 1.0},
    }
    step = table_model(table, V=3)
    state = prefix_state([()])
    raw = beam_search(step, state, 1, SOS, EOS, 6, beam_size=4, alpha=0.0)[0][0]
    assert raw.tokens == ()  # log 0.5 = -0.69 beats log(0.5 * 0.8 * 0.8) = -1.14
    norm = beam_search(step, state, 1, SOS, EOS, 6, beam_size=4, alpha=1.0, penalty="power")
    assert norm[0][0].tokens == (A, A, A)  # -1.14 / 4 = -0.29 beats -0.69 / 1
    np.testing.assert_allclose(norm[0][0].score, np.log(0.32) / 4)


def test_length_penalties_follow_their_formulas():
    np.testing.assert_allclose(length_penalty(7, 0.6, "gnmt"), (12 / 6) ** 0.6)
    np.testing.assert_allclose(length_penalty(7, 0.6, "power"), 7**0.6)
    assert length_penalty(9, 0.0) == 1.0
    with pytest.raises(ValueError, match="kind must be one of"):
        length_penalty(3, 1.0, "average")
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        length_penalty(3, -1.0)


def test_gather_state_walks_nested_containers():
    state = {"h": np.arange(6).reshape(3, 2), "pair": (np.arange(3), [np.arange(3) * 10])}
    out = gather_state(state, np.array([2, 2, 0]))
    np.testing.assert_array_equal(out["h"], [[4, 5], [4, 5], [0, 1]])
    np.testing.assert_array_equal(out["pair"][1][0], [20, 20, 0])


def test_a_step_with_the_wrong_shape_is_reported():
    def step(tokens, state):
        return np.zeros((len(tokens) + 1, 4)), state

    with pytest.raises(ValueError, match=r"log_probs of shape \(B, V\) = \(2, V\)"):
        greedy_decode(step, np.zeros((2, 1)), 2, SOS, EOS, 3)
