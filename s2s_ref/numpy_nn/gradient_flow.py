"""How much gradient reaches each hidden state: the measurement behind vanishing gradients.

Book: chapter 1, "Vanishing and exploding gradients".
"""

import numpy as np

from s2s_ref.numpy_nn.rnn import rnn_step_backward
from s2s_ref.shapes import check_shapes


def state_gradients(dh, cache):
    """The total gradient dL/dh_k reaching every hidden state, by backpropagation through time.

    dh: (N, T, H), the upstream gradient of every h_t (zero where no loss reads h_t);
    cache: from ``rnn_forward`` -> dL/dh: (N, T, H)
    Entry [:, k] is dh[:, k] plus everything that flows back into h_k from h_{k+1}, ..., h_{T-1}:
    the same sum ``rnn_backward`` feeds to each step, kept instead of discarded. With a loss on
    the last step only, its norm against T-1-k shows how fast the signal fades (or grows) with
    distance. This is a sibling of ``rnn_backward`` and reads the same cache.
    Book: chapter 1, "Vanishing and exploding gradients".
    """
    x, h0, Wx, Wh, h = cache
    check_shapes("state_gradients", h=(h, "N T H"), dh=(dh, "N T H"))  # blame dh, not the cache
    T = x.shape[1]
    total = np.empty_like(h)
    dh_prev = np.zeros_like(h0)  # nothing flows back into the last state from the future
    for t in reversed(range(T)):
        total[:, t] = dh[:, t] + dh_prev
        h_prev = h[:, t - 1] if t > 0 else h0
        step_cache = (x[:, t], h_prev, Wx, Wh, h[:, t])
        _, dh_prev, _, _, _ = rnn_step_backward(total[:, t], step_cache)
    return total
