"""Batched greedy decoding and beam search for ``Seq2Seq``, on the model's device.

Same rules and return values as the framework-agnostic ``s2s_ref.decoding`` (chapter 4): every
model call serves all N sources (or N * K hypotheses) at once and the states stay on the device.
Greedy decoding runs on the device throughout; beam search is ``decoding.beam_search`` itself,
fed by ``decoding_step``, so its bookkeeping exists once.
Book: chapter 6, "Reading dates in 30 seconds" (chapter 4 for the algorithms).
"""

import torch

from s2s_ref import decoding
from s2s_ref.decoding import check_log_probs, check_search_args


def _check(func, log_probs, eos_id):
    """check_log_probs on a (B, V) tensor: one host sync per step."""
    lp = log_probs.float()
    nan, pos_inf, top = torch.stack([lp.isnan().any(), lp.isposinf().any(), lp.max()]).tolist()
    check_log_probs(func, log_probs.shape[1], eos_id, bool(nan), bool(pos_inf), top)


def _reorder(state, index):
    """Rows ``index`` of a decoder state (h (1, B, H), or an LSTM's (h, c))."""
    if isinstance(state, tuple):
        return tuple(s[:, index] for s in state)
    return state[:, index]


@torch.no_grad()
def greedy_decode(model, src, src_mask, sos_id, eos_id, max_len, pad_id=0):
    """Feed back the argmax until every row has produced EOS or max_len tokens.

    src, src_mask: (N, S) on the model's device
    -> tokens (N, L) with EOS included and pad_id after it, lengths (N,), log_probs (N,), tensors.
    N = 0 gives empty results; bad arguments and step outputs raise ValueError (as in
    s2s_ref.decoding).
    Book: chapter 6, "Reading dates in 30 seconds" (chapter 4, "Greedy decoding").
    """
    check_search_args("greedy_decode", src.shape[0], sos_id, eos_id, max_len)
    if src.shape[0] == 0:
        empty = torch.zeros(0, dtype=torch.long, device=src.device)
        return empty.view(0, 0), empty, torch.zeros(0, device=src.device)
    context, state = model.encode(src, src_mask)
    N, device = src.shape[0], src.device
    tokens = torch.full((N,), sos_id, dtype=torch.long, device=device)
    out = torch.full((N, max_len), pad_id, dtype=torch.long, device=device)
    lengths = torch.full((N,), max_len, dtype=torch.long, device=device)
    total = torch.zeros(N, device=device)
    finished = torch.zeros(N, dtype=torch.bool, device=device)
    for t in range(max_len):
        log_probs, state = model.step(tokens, context, state)  # (N, V)
        _check("greedy_decode", log_probs, eos_id)
        best, tokens = log_probs.max(dim=1)
        alive = ~finished
        out[:, t] = torch.where(alive, tokens, out[:, t])
        total += torch.where(alive, best, 0.0)
        ended = alive & (tokens == eos_id)
        lengths[ended] = t + 1
        finished |= ended
        if bool(finished.all()):  # one host sync per step, to stop as soon as all are done
            break
    return out[:, : int(lengths.max())], lengths, total


@torch.no_grad()
def beam_search(
    model, src, src_mask, sos_id, eos_id, max_len, beam_size, alpha=0.0, penalty="gnmt"
):
    """Beam search over N sources at once, K = beam_size hypotheses each, in one batch of N * K.

    src, src_mask: (N, S) -> for each source, up to K ``s2s_ref.decoding.Hypothesis``, best first.
    The bookkeeping is ``s2s_ref.decoding.beam_search``'s, run on this model through
    ``decoding_step``: every model call serves all N * K hypotheses, on the model's device; each
    step's (N * K, V) log-probabilities come back to the CPU for the bookkeeping.
    Book: chapter 6, "Reading dates in 30 seconds" (chapter 4, "Beam search").
    """
    check_search_args("beam_search", src.shape[0], sos_id, eos_id, max_len, beam_size)
    if src.shape[0] == 0:
        return []
    step, state = decoding_step(model, src, src_mask)
    return decoding.beam_search(
        step, state, src.shape[0], sos_id, eos_id, max_len, beam_size, alpha, penalty
    )


def decoding_step(model, src, src_mask):
    """Adapt a Seq2Seq to the protocol of ``s2s_ref.decoding``: step(tokens, state).

    -> step, state, every state leaf batch-first (context (N, C), h (N, H)) for gather_state.
    """
    context, h = model.encode(src, src_mask)

    def step(tokens, state):
        ctx, hs = state
        hs = tuple(s.transpose(0, 1) for s in hs)  # back to (1, B, H)
        with torch.no_grad():
            log_probs, new = model.step(
                torch.as_tensor(tokens, device=ctx.device), ctx, hs if len(hs) == 2 else hs[0]
            )
        new = new if isinstance(new, tuple) else (new,)
        return log_probs.double().cpu().numpy(), (ctx, tuple(s.transpose(0, 1) for s in new))

    hs = h if isinstance(h, tuple) else (h,)
    return step, (context, tuple(s.transpose(0, 1) for s in hs))
