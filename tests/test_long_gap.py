"""The long-gap experiment's task and training glue (the book plots its committed results)."""

import numpy as np
import pytest

from s2s_ref.experiments.long_gap import K, forward_backward, init_params, make_batch, run
from s2s_ref.gradcheck import numerical_gradient, relative_error


def test_batch_is_one_hot_with_a_marker_and_asks_for_the_first_symbol(rng):
    x, y = make_batch(rng, n=5, gap=7)
    assert x.shape == (5, 8, K + 1) and y.shape == (5,)
    np.testing.assert_array_equal(x[..., :K].sum(axis=-1), 1.0)
    np.testing.assert_array_equal(x[:, :, K], [[1] + [0] * 7] * 5)
    np.testing.assert_array_equal(x[:, 0, :K].argmax(axis=-1), y)


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_loss_gradients_against_finite_differences(rng, model):
    params = init_params(rng, model, H=3)
    x, y = make_batch(rng, n=2, gap=3)
    _, grads, _ = forward_backward(model, params, x, y)
    assert grads.keys() == params.keys()
    names = list(params)
    for i, name in enumerate(names):

        def loss(*arrays):
            return forward_backward(model, dict(zip(names, arrays, strict=True)), x, y)[0]

        numeric = numerical_gradient(loss, [params[k] for k in names], i)
        assert relative_error(grads[name], numeric) < 1e-6, name


def test_gated_cells_start_keeping_their_memory(rng):
    H = 4
    lstm, gru = init_params(rng, "lstm", H), init_params(rng, "gru", H)
    np.testing.assert_array_equal(lstm["b"][H : 2 * H], 3.0)  # forget gate f
    np.testing.assert_array_equal(lstm["b"][:H], -3.0)  # input gate i
    np.testing.assert_array_equal(gru["b"][H : 2 * H], 3.0)  # update gate z


def test_a_short_run_reports_a_held_out_accuracy():
    result = run("gru", gap=2, seed=0, H=4, batch=8, steps=3)
    assert result["updates"] == 3 and 0 <= result["accuracy"] <= 1
