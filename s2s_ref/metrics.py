"""Accuracy of predicted sequences against targets (ground floor: plain Python).

Book: chapter 3, "Measuring a sequence model".
"""

from collections.abc import Sequence

_END = object()  # the end of a sequence counts as one more token to get right


def token_accuracy(targets: Sequence[Sequence], predictions: Sequence[Sequence]) -> float:
    """Fraction of target tokens (plus one end-of-sequence per target) predicted at their position.

    targets, predictions: one token (or id) list per example, without special tokens.
    A prediction that stops early misses the remaining tokens; one that runs on misses the end.
    """
    right = total = 0
    for tgt, pred in zip(targets, predictions, strict=True):
        tgt_e, pred_e = [*tgt, _END], [*pred, _END]
        right += sum(p is t if t is _END else p == t for p, t in zip(pred_e, tgt_e, strict=False))
        total += len(tgt_e)
    return right / max(total, 1)


def exact_match(targets: Sequence[Sequence], predictions: Sequence[Sequence]) -> float:
    """Fraction of examples whose prediction equals the target exactly."""
    pairs = list(zip(targets, predictions, strict=True))
    return sum(list(p) == list(t) for t, p in pairs) / max(len(pairs), 1)


def accuracy_by_length(sources, targets, predictions) -> dict[int, tuple[float, float, int]]:
    """{source length: (token accuracy, exact match, number of examples)}, sorted by length."""
    groups: dict[int, tuple[list, list]] = {}
    for src, tgt, pred in zip(sources, targets, predictions, strict=True):
        g = groups.setdefault(len(src), ([], []))
        g[0].append(tgt)
        g[1].append(pred)
    return {
        k: (token_accuracy(t, p), exact_match(t, p), len(t)) for k, (t, p) in sorted(groups.items())
    }
