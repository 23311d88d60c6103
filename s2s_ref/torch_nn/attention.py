"""Batched attention in PyTorch: the twins of ``numpy_nn.attention``, for T queries at once.

    score(q_t, k_s): dot q.k (optionally / sqrt(Hk)), general q W k, additive w.tanh(q Wq + k Wk)
    a_t = softmax over the real keys of score(q_t, k_.),  context_t = sum_s a_ts v_s

Each scorer is an ``nn.Module`` with the NumPy reference's parameter names and layouts (``W``,
``Wq``, ``Wk``, ``w``, used as ``x @ W``), so NumPy weights copy in unchanged. The part of the
score that depends on the keys only (``k Wk``, ``W k``) is computed once per source by
``project_keys`` and reused at every decoder step, instead of once per step as many tutorials do.
``PooledScore`` ignores the query: it is learned pooling, not attention (chapter 5).
Book: chapter 7, "Attention for all queries at once".
"""

import math

import torch
from torch import nn


def check_mask(mask, N, S):
    """Raise a sentence unless mask is a boolean (N, S) with at least one real key per row."""
    if mask.dtype != torch.bool or tuple(mask.shape) != (N, S):
        raise ValueError(
            f"attention: mask should be boolean (N, S) = ({N}, {S}), True = real key; "
            f"got {mask.dtype} {tuple(mask.shape)}"
        )
    if not bool(mask.any(dim=1).all()):
        empty = torch.nonzero(~mask.any(dim=1)).flatten().tolist()
        raise ValueError(f"attention: batch row(s) {empty} have no real key (mask all False)")


def masked_softmax(scores, mask):
    """Softmax over the last axis, real keys only; padded keys get exactly 0 weight.

    scores: (N, T, S), mask: (N, S) bool, True = real -> weights (N, T, S), rows summing to 1.
    masked_fill replaces padded scores (even inf or NaN) by -inf before the softmax, whose
    exp(-inf) = 0 is exact, and gives them zero gradient.
    Book: chapter 7, "Attention for all queries at once" (chapter 5, "Masking").
    """
    return torch.softmax(scores.masked_fill(~mask[:, None, :], -math.inf), dim=-1)


class _Attention(nn.Module):
    """Shared read-out: subclasses define project_keys(k) and scores(q (N, T, Hq), keys)."""

    def project_keys(self, k):
        """k: (N, S, Hk) -> what scores() needs of the keys, computed once per source."""
        return k

    def forward(self, q, k, v, mask, keys=None, checked=False):
        """q: (N, Hq) or (N, T, Hq), k: (N, S, Hk), v: (N, S, Hv), mask: (N, S) bool
        -> context (N, [T,] Hv), weights (N, [T,] S), matching q's rank.

        keys: project_keys(k) computed earlier (saves the work at every decoder step);
        checked: the mask was already validated by check_mask (skips a host sync per step).
        """
        single = q.dim() == 2
        q3 = q.unsqueeze(1) if single else q  # (N, T, Hq)
        if q3.dim() != 3 or k.dim() != 3 or v.shape[:2] != k.shape[:2] or q3.shape[0] != k.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: expected q (N, [T,] Hq), k (N, S, Hk), v (N, S, Hv), "
                f"got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
            )
        if not checked:
            check_mask(mask, *k.shape[:2])
        keys = self.project_keys(k) if keys is None else keys
        weights = masked_softmax(self.scores(q3, keys), mask)  # (N, T, S)
        context = torch.bmm(weights, v)  # (N, T, S) @ (N, S, Hv): all T steps in one call
        if single:
            return context[:, 0], weights[:, 0]
        return context, weights


class DotScore(_Attention):
    """score = q . k_s, divided by sqrt(Hk) when scale is True (Hq must equal Hk). No parameters."""

    def __init__(self, scale=False):
        super().__init__()
        self.scale = scale

    def scores(self, q, keys):
        if q.shape[-1] != keys.shape[-1]:
            raise ValueError(
                f"DotScore: query size {q.shape[-1]} != key size {keys.shape[-1]}; "
                "use GeneralScore or AdditiveScore to compare vectors of different sizes"
            )
        s = torch.bmm(q, keys.transpose(1, 2))  # (N, T, Hq) @ (N, Hk, S) -> (N, T, S)
        return s / math.sqrt(q.shape[-1]) if self.scale else s


class GeneralScore(_Attention):
    """score = q W k_s. Parameter W (Hq, Hk); the keys are moved into query space once: W k."""

    def __init__(self, Hq, Hk, generator=None):
        super().__init__()
        self.W = nn.Parameter(_init((Hq, Hk), Hq, generator))

    def project_keys(self, k):
        return k @ self.W.T  # (N, S, Hq)

    def scores(self, q, keys):
        return torch.bmm(q, keys.transpose(1, 2))


class AdditiveScore(_Attention):
    """score = w . tanh(q Wq + k_s Wk) (Bahdanau, "concat"). Wq (Hq, A), Wk (Hk, A), w (A,)."""

    def __init__(self, Hq, Hk, A, generator=None):
        super().__init__()
        self.Wq = nn.Parameter(_init((Hq, A), Hq, generator))
        self.Wk = nn.Parameter(_init((Hk, A), Hk, generator))
        self.w = nn.Parameter(_init((A,), A, generator))

    def project_keys(self, k):
        return k @ self.Wk  # (N, S, A)

    def scores(self, q, keys):
        hidden = torch.tanh((q @ self.Wq)[:, :, None, :] + keys[:, None, :, :])  # (N, T, S, A)
        return hidden @ self.w


class PooledScore(_Attention):
    """Not attention: score = w . tanh(k_s Wk) ignores the query (Keras-style "attention"), so
    every decoder step gets the same weights. Wk (Hk, A), w (A,)."""

    def __init__(self, Hk, A, generator=None):
        super().__init__()
        self.Wk = nn.Parameter(_init((Hk, A), Hk, generator))
        self.w = nn.Parameter(_init((A,), A, generator))

    def project_keys(self, k):
        return torch.tanh(k @ self.Wk) @ self.w  # (N, S): the scores themselves

    def scores(self, q, keys):
        return keys[:, None, :].expand(-1, q.shape[1], -1)


def _init(shape, fan_in, generator):
    bound = 1.0 / math.sqrt(fan_in)
    return torch.empty(shape).uniform_(-bound, bound, generator=generator)


def make_score(score, Hq, Hk, A=None, generator=None):
    """A scorer by name: "dot", "scaled_dot", "general", "additive" or "pooled"."""
    if score in ("dot", "scaled_dot"):
        if Hq != Hk:
            raise ValueError(f"{score} attention needs Hq == Hk, got {Hq} and {Hk}")
        return DotScore(scale=score == "scaled_dot")
    if score == "general":
        return GeneralScore(Hq, Hk, generator)
    if score in ("additive", "pooled") and A is None:
        raise ValueError(f"{score} attention needs an attention size A")
    if score == "additive":
        return AdditiveScore(Hq, Hk, A, generator)
    if score == "pooled":
        return PooledScore(Hk, A, generator)
    raise ValueError(f"unknown score {score!r}; one of dot, scaled_dot, general, additive, pooled")
