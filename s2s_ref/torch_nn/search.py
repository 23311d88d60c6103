"""Batched greedy decoding and beam search for ``Seq2Seq``, on the model's device.

Same rules and return values as the framework-agnostic ``s2s_ref.decoding`` (chapter 4), but
every model call serves all N sources (or N * K hypotheses) at once and the states never leave
the device; only beam search's small (N, 2K) shortlist comes back to the CPU for bookkeeping.
Book: chapter 6, "Batched decoding" (chapter 4 for the algorithms).
"""

import numpy as np
import torch

from s2s_ref.decoding import Hypothesis, check_log_probs, check_search_args, length_penalty


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
    Book: chapter 6, "Batched decoding".
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
    The K * V extensions of a source's live hypotheses compete together; an EOS among the K best
    finishes a hypothesis, later non-EOS ones refill the beam; a source stops once K finished
    ones cannot be beaten (scores only fall). Scores are summed log-probabilities (float64)
    divided by length_penalty(len, alpha, penalty), len counting the EOS.
    Book: chapter 6, "Batched decoding" (chapter 4, "Beam search").
    """
    check_search_args("beam_search", src.shape[0], sos_id, eos_id, max_len, beam_size)
    if src.shape[0] == 0:
        return []
    N, K, device = src.shape[0], beam_size, src.device
    context, state = model.encode(src, src_mask)
    copies = torch.arange(N, device=device).repeat_interleave(K)  # K copies of each source
    context, state = context[copies], _reorder(state, copies)
    tokens = torch.full((N * K,), sos_id, dtype=torch.long, device=device)
    scores = torch.full((N, K), -np.inf, dtype=torch.float64, device=device)
    scores[:, 0] = 0.0  # one live hypothesis at first, or the K copies would all survive
    history = np.zeros((N, K, 0), dtype=np.int64)
    finished = [[] for _ in range(N)]
    lp_max = float(length_penalty(max_len, alpha, penalty))
    for t in range(max_len):
        log_probs, state = model.step(tokens, context, state)  # (N * K, V)
        _check("beam_search", log_probs, eos_id)
        V = log_probs.shape[1]
        flat = (scores[:, :, None] + log_probs.double().view(N, K, V)).view(N, K * V)
        top, order = torch.sort(flat, dim=1, descending=True, stable=True)
        top, order = top[:, : 2 * K].cpu().numpy(), order[:, : 2 * K].cpu().numpy()  # (N, 2K)
        new_scores = np.full((N, K), -np.inf)
        parents = np.zeros((N, K), dtype=np.int64)
        new_tokens = np.full((N, K), eos_id, dtype=np.int64)
        lp = float(length_penalty(t + 1, alpha, penalty))
        for n in range(N):
            live = 0
            for rank, (score, j) in enumerate(zip(top[n], order[n], strict=True)):
                if score == -np.inf or live == K:
                    break
                parent, token = divmod(int(j), V)
                if token == eos_id:
                    if rank < K:  # only an EOS among the K best ends a hypothesis
                        hyp = tuple(history[n, parent].tolist())
                        finished[n].append(Hypothesis(hyp, float(score), float(score) / lp, True))
                    continue
                new_scores[n, live], parents[n, live], new_tokens[n, live] = score, parent, token
                live += 1
            best = sorted((h.score for h in finished[n]), reverse=True)
            if len(best) >= K and new_scores[n].max() / lp_max <= best[K - 1]:
                new_scores[n] = -np.inf  # done: nothing live can still enter the top K
        history = np.concatenate(
            [np.take_along_axis(history, parents[:, :, None], axis=1), new_tokens[:, :, None]],
            axis=2,
        )
        scores = torch.from_numpy(new_scores).to(device)
        tokens = torch.from_numpy(new_tokens.reshape(N * K)).to(device)
        if np.all(new_scores == -np.inf):
            break
        rows = torch.from_numpy((parents + np.arange(N)[:, None] * K).reshape(N * K)).to(device)
        state = _reorder(state, rows)  # context rows never change: a source keeps its own
    lp = float(length_penalty(history.shape[2], alpha, penalty))
    final = scores.cpu().numpy()
    results = []
    for n in range(N):
        unfinished = [
            Hypothesis(tuple(history[n, k].tolist()), float(final[n, k]), float(final[n, k] / lp),
                       False)
            for k in range(K)
            if final[n, k] > -np.inf
        ]  # fmt: skip
        results.append(sorted(finished[n] + unfinished, key=lambda h: -h.score)[:K])
    return results


def decoding_step(model, src, src_mask):
    """Adapt a Seq2Seq to the protocol of ``s2s_ref.decoding``: step(tokens, state).

    -> step, state, every state leaf batch-first (context (N, C), h (N, H)) for gather_state.
    """
    context, h = model.encode(src, src_mask)

    def step(tokens, state):
        ctx, hs = state
        hs = tuple(s.transpose(0, 1) for s in hs)  # back to (1, B, H)
        with torch.no_grad():
            log_probs, new = model.step(torch.as_tensor(tokens, device=ctx.device), ctx,
                                        hs if len(hs) == 2 else hs[0])  # fmt: skip
        new = new if isinstance(new, tuple) else (new,)
        return log_probs.double().cpu().numpy(), (ctx, tuple(s.transpose(0, 1) for s in new))

    hs = h if isinstance(h, tuple) else (h,)
    return step, (context, tuple(s.transpose(0, 1) for s in hs))
