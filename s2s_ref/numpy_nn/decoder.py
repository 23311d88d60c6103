"""The decoder: a GRU language model of the target, conditioned on the context vector.

    s_0 = c
    s_t = GRU([W_emb[y_{t-1}]; c], s_{t-1})          the context enters every step
    logits_t = [s_t; c] @ Wo + bo,   P(y_t | y_<t, x) = softmax(logits_t)

The input at step t is the previous target token (teacher forcing) or, with probability
1 - teacher_ratio per token, the decoder's own previous prediction (argmax), as in scheduled
sampling. The choice is not differentiable: gradients flow through the embeddings of the tokens
actually fed, which the forward returns.
Book: chapter 3, "The decoder"; chapter 4, "Teacher forcing".
"""

import numpy as np

from s2s_ref.numpy_nn.gru import gru_step_backward, gru_step_forward
from s2s_ref.shapes import check_shapes
from s2s_ref.teacher_forcing import teacher_coins


def decoder_forward(y_in, context, W_emb, Wx, Wh, bx, bh, Wo, bo, teacher_ratio=1.0, rng=None):
    """Run the decoder over T steps from the context.

    y_in: (N, T) int, the teacher inputs SOS + y (y_in[:, 0] is always fed); context: (N, H);
    W_emb: (V, E), Wx: (E + H, 3H), Wh: (H, 3H), bx, bh: (3H,), Wo: (2H, V), bo: (V,);
    teacher_ratio: probability of feeding y_in[:, t] rather than the previous argmax (t >= 1);
    rng: numpy.random.Generator, needed when 0 < teacher_ratio < 1
    -> logits: (N, T, V), fed: (N, T) the ids actually fed, cache
    Book: chapter 3, "The decoder".
    """
    check_shapes(
        "decoder_forward", y_in=(y_in, "N T"), context=(context, "N H"), W_emb=(W_emb, "V E"),
        Wh=(Wh, "H 3H"), Wo=(Wo, "2H V"), bo=(bo, "V"),
    )  # fmt: skip
    if Wx.shape != (W_emb.shape[1] + context.shape[1], Wh.shape[1]):
        raise ValueError(f"decoder_forward: Wx should have shape (E + H, 3H), got {Wx.shape}")
    N, T = y_in.shape
    coins = teacher_coins((N, T), teacher_ratio, rng)
    coins[:, 0] = True  # the first input is SOS whatever the schedule
    fed = np.empty((N, T), dtype=np.int64)
    logits = np.empty((N, T, Wo.shape[1]), dtype=np.result_type(context, Wo))
    steps, s = [], context
    for t in range(T):
        fed[:, t] = (
            y_in[:, t] if t == 0 else np.where(coins[:, t], y_in[:, t], logits[:, t - 1].argmax(1))
        )
        x = np.concatenate([W_emb[fed[:, t]], context], axis=1)  # (N, E + H)
        s, step_cache = gru_step_forward(x, s, Wx, Wh, bx, bh)
        steps.append((step_cache, s))
        logits[:, t] = np.concatenate([s, context], axis=1) @ Wo + bo
    return logits, fed, (steps, fed, context, W_emb.shape, Wo)


def decoder_backward(dlogits, cache):
    """Backpropagation through time through the decoder.

    dlogits: (N, T, V) -> dcontext: (N, H), dW_emb: (V, E), dWx: (E + H, 3H), dWh: (H, 3H),
    dbx: (3H,), dbh: (3H,), dWo: (2H, V), dbo: (V,)
    The context gets three contributions: through every output, through every input and, as
    s_0, through the first state.
    Book: chapter 3, "Backpropagation through decoder and encoder".
    """
    steps, fed, context, (V, E), Wo = cache
    check_shapes("decoder_backward", dlogits=(dlogits, "N T V"), fed=(fed, "N T"), Wo=(Wo, "K V"))
    N, T, _ = dlogits.shape
    H = context.shape[1]
    dcontext = np.zeros_like(context)
    dW_emb = np.zeros((V, E), dtype=dlogits.dtype)
    dWo = np.zeros_like(Wo)
    grads = 0, 0, 0, 0  # dWx, dWh, dbx, dbh, summed over steps
    ds_next = np.zeros_like(context)
    for t in reversed(range(T)):
        step_cache, s = steps[t]
        do = dlogits[:, t] @ Wo.T  # (N, 2H): [ds_t; dc]
        dWo += np.concatenate([s, context], axis=1).T @ dlogits[:, t]
        dx, ds_next, *step = gru_step_backward(do[:, :H] + ds_next, step_cache)
        grads = tuple(a + g for a, g in zip(grads, step, strict=True))
        dcontext += do[:, H:] + dx[:, E:]
        np.add.at(dW_emb, fed[:, t], dx[:, :E])  # a token fed twice gets both gradients
    dcontext += ds_next  # s_0 = c
    return (dcontext, dW_emb, *grads, dWo, dlogits.sum(axis=(0, 1)))
