"""Greedy decoding and beam search over any model, framework-agnostic (ground floor: NumPy).

The model is seen only through a step function::

    step(tokens, state) -> (log_probs, new_state)

- ``tokens``: (B,) int64, the last token of each of B hypotheses (SOS at the first step);
- ``state``: the decoder state of those B hypotheses: an array, or any nesting of tuples,
  lists and dicts whose leaves are arrays (NumPy or torch) batched on axis 0;
- ``log_probs``: (B, V) NumPy array, log P(next token | hypothesis, source).

Beam search keeps ``beam_size`` hypotheses per source and, after each step, rebuilds the state
of the survivors from their parents with ``reorder(state, parents)`` (default ``gather_state``,
which indexes axis 0 of every leaf). Everything a hypothesis needs from its source (encoder
outputs, masks) belongs in the state, so that it is copied along with it.

A hypothesis's *length* counts its tokens plus the EOS that finished it. Scores are summed log
probabilities, divided by a length penalty ``lp``: ``len ** alpha`` ("power") or GNMT's
``((5 + len) / 6) ** alpha`` ("gnmt", Wu et al. 2016); alpha = 0 ranks by raw log probability,
which favours short outputs since every token adds a negative term.
Book: chapter 4, "Greedy decoding", "Beam search", "Length normalisation".
"""

from dataclasses import dataclass

import numpy as np

PENALTIES = ("gnmt", "power")


def length_penalty(length, alpha: float, kind: str = "gnmt"):
    """lp(len): "gnmt" ((5 + len) / 6) ** alpha, or "power" len ** alpha; 1 when alpha = 0."""
    if kind not in PENALTIES:
        raise ValueError(f"length_penalty: kind must be one of {PENALTIES}, got {kind!r}")
    if alpha < 0:
        raise ValueError(f"length_penalty: alpha must be >= 0, got {alpha}")
    length = np.asarray(length, dtype=np.float64)
    return ((5.0 + length) / 6.0) ** alpha if kind == "gnmt" else length**alpha


def gather_state(state, index):
    """The state of hypotheses ``index``: axis 0 of every array leaf, through tuples/lists/dicts.

    state: array (B, ...) or a nesting of them; index: (B',) int64 -> the same nesting, (B', ...)
    """
    if isinstance(state, dict):
        return {k: gather_state(v, index) for k, v in state.items()}
    if isinstance(state, (tuple, list)):
        return type(state)(gather_state(v, index) for v in state)
    return state[index]


def _is_count(value, low):
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= low


def check_search_args(func, batch_size, sos_id, eos_id, max_len, beam_size=None):
    """Refuse impossible decoding arguments with a sentence naming ``func`` and what was expected:
    batch_size an integer >= 0, ids integers >= 0, max_len and beam_size integers >= 1."""
    wanted = {"batch_size": (batch_size, 0), "sos_id": (sos_id, 0), "eos_id": (eos_id, 0),
              "max_len": (max_len, 1)}  # fmt: skip
    if beam_size is not None:
        wanted["beam_size"] = (beam_size, 1)
    for name, (value, low) in wanted.items():
        if not _is_count(value, low):
            raise ValueError(f"{func}: need {name} >= {low} (an integer), got {value!r}")


def check_log_probs(func, V, eos_id, has_nan, has_pos_inf, max_value):
    """Refuse a step's output that cannot be log-probabilities over V tokens: eos_id outside
    [0, V) (the search could never stop), NaN or +inf entries, or values above 0 (probabilities
    passed instead of their logarithms). The arguments are summaries, so that NumPy and torch
    callers share the rule without copying their arrays."""
    if eos_id >= V:
        raise ValueError(
            f"{func}: eos_id {eos_id} is outside the vocabulary of the step's log_probs (V = {V})"
        )
    if has_nan or has_pos_inf:
        raise ValueError(
            f"{func}: the step returned {'NaN' if has_nan else '+inf'} log-probabilities; "
            "expected finite values or -inf (a token that cannot come)"
        )
    if max_value > 1e-6:
        raise ValueError(
            f"{func}: the step returned a log-probability of {max_value:.4g} > 0; expected "
            "log-probabilities (<= 0), e.g. log_softmax of the logits, not probabilities"
        )


def _log_probs(step, tokens, state, B, eos_id, func):
    log_probs, state = step(tokens, state)
    log_probs = np.asarray(log_probs)
    if log_probs.ndim != 2 or log_probs.shape[0] != B:
        raise ValueError(
            f"step must return log_probs of shape (B, V) = ({B}, V), got {log_probs.shape}"
        )
    if log_probs.size:
        nan, pos_inf = bool(np.isnan(log_probs).any()), bool(np.isposinf(log_probs).any())
        check_log_probs(func, log_probs.shape[1], eos_id, nan, pos_inf, float(log_probs.max()))
    return log_probs, state


def greedy_decode(step, state, batch_size, sos_id, eos_id, max_len, pad_id=0):
    """Pick the most probable token at every step, feeding it back, until EOS or max_len.

    step, state: as in the module docstring, state batched with B = batch_size
    -> tokens: (N, L) int64, EOS included, pad_id after it, L <= max_len the longest length;
       lengths: (N,) tokens up to and including EOS (max_len if it never came);
       log_probs: (N,) summed log probability of each output.
    Finished rows keep being fed (their outputs are ignored) so that the batch stays whole.
    Bad arguments and step outputs raise ValueError (check_search_args, check_log_probs).
    Book: chapter 4, "Greedy decoding".
    """
    check_search_args("greedy_decode", batch_size, sos_id, eos_id, max_len)
    N = batch_size
    tokens = np.full(N, sos_id, dtype=np.int64)
    out = np.full((N, max_len), pad_id, dtype=np.int64)
    lengths = np.full(N, max_len, dtype=np.int64)
    total = np.zeros(N)
    finished = np.zeros(N, dtype=bool)
    for t in range(max_len):
        log_probs, state = _log_probs(step, tokens, state, N, eos_id, "greedy_decode")
        tokens = log_probs.argmax(axis=1)
        alive = ~finished
        out[alive, t] = tokens[alive]
        total[alive] += log_probs[alive, tokens[alive]]
        ended = alive & (tokens == eos_id)
        lengths[ended] = t + 1
        finished |= ended
        if finished.all():
            break
    return out[:, : lengths.max(initial=0)], lengths, total


@dataclass(frozen=True)
class Hypothesis:
    """One beam-search output: tokens without SOS and EOS; finished: it ended with EOS."""

    tokens: tuple[int, ...]
    log_prob: float  # summed log probability, the EOS included when finished
    score: float  # log_prob / length_penalty(len(tokens) + finished)
    finished: bool


def beam_search(
    step, state, batch_size, sos_id, eos_id, max_len, beam_size,
    alpha=0.0, penalty="gnmt", reorder=gather_state,
):  # fmt: skip
    """Keep the beam_size best partial hypotheses per source, extending all of them each step.

    step, state: as in the module docstring, state batched with B = batch_size (one per source);
    alpha, penalty: the length normalisation (module docstring).
    -> for each source, a list of up to beam_size Hypothesis, best score first.
    At each step the K * V extensions of the K live hypotheses compete together (two children of
    one parent may both survive). An extension ending in EOS among the K best is set aside as
    finished and stops growing; the next non-EOS ones refill the beam. A source is done once it
    has K finished hypotheses and no live one can still beat the K-th (its score can only fall,
    and its best penalty is lp(max_len)). Live hypotheses at max_len are returned unfinished.
    With beam_size 1 this is greedy decoding; as wide as the search space, exhaustive search.
    Book: chapter 4, "Beam search".
    """
    check_search_args("beam_search", batch_size, sos_id, eos_id, max_len, beam_size)
    N, K = batch_size, beam_size
    lp_max = float(length_penalty(max_len, alpha, penalty))
    state = reorder(state, np.repeat(np.arange(N), K))  # K copies of each source, (N * K, ...)
    tokens = np.full(N * K, sos_id, dtype=np.int64)
    scores = np.full((N, K), -np.inf)
    scores[:, 0] = 0.0  # one live hypothesis at the start, or the K copies would all survive
    history = np.zeros((N, K, 0), dtype=np.int64)
    finished: list[list[Hypothesis]] = [[] for _ in range(N)]
    for t in range(max_len):
        log_probs, state = _log_probs(step, tokens, state, N * K, eos_id, "beam_search")
        V = log_probs.shape[1]
        flat = (scores[:, :, None] + log_probs.reshape(N, K, V)).reshape(N, K * V)
        order = np.argsort(-flat, axis=1, kind="stable")[:, : min(2 * K, K * V)]  # (N, <=2K)
        new_scores = np.full((N, K), -np.inf)
        parents = np.zeros((N, K), dtype=np.int64)
        new_tokens = np.full((N, K), eos_id, dtype=np.int64)
        for n in range(N):
            live = 0
            for rank, j in enumerate(order[n]):
                parent, token, score = j // V, j % V, flat[n, j]
                if score == -np.inf or live == K:
                    break
                if token == eos_id:
                    if rank < K:  # only an EOS among the K best ends a hypothesis
                        lp = float(length_penalty(t + 1, alpha, penalty))
                        hyp = tuple(history[n, parent].tolist())
                        finished[n].append(Hypothesis(hyp, float(score), float(score) / lp, True))
                    continue
                new_scores[n, live], parents[n, live], new_tokens[n, live] = score, parent, token
                live += 1
            best = sorted(h.score for h in finished[n])[::-1]
            if len(best) >= K and new_scores[n].max() / lp_max <= best[K - 1]:
                new_scores[n] = -np.inf  # done: nothing live can enter the top K
        history = np.concatenate(
            [np.take_along_axis(history, parents[:, :, None], axis=1), new_tokens[:, :, None]],
            axis=2,
        )
        scores = new_scores
        tokens = new_tokens.reshape(N * K)
        if np.all(scores == -np.inf):
            break
        state = reorder(state, (parents + np.arange(N)[:, None] * K).reshape(N * K))
    lp = float(length_penalty(history.shape[2], alpha, penalty))
    results = []
    for n in range(N):
        unfinished = [
            Hypothesis(
                tuple(history[n, k].tolist()), float(scores[n, k]), float(scores[n, k] / lp), False
            )
            for k in range(K)
            if scores[n, k] > -np.inf
        ]
        results.append(sorted(finished[n] + unfinished, key=lambda h: -h.score)[:K])
    return results
