"""The torch_nn twins against torch.nn (a transpose away), and the torch loss against bad input."""

import numpy as np
import pytest
import torch

from s2s_ref.torch_nn.cells import GRU, LSTM, RNN
from s2s_ref.torch_nn.loss import masked_cross_entropy

from .conftest import D, H, N, T, V


def _copy_into_torch_nn(twin, ref):
    """weight_ih = Wx.T, weight_hh = Wh.T; a single bias b goes into bias_ih."""
    with torch.no_grad():
        ref.weight_ih_l0.copy_(twin.Wx.T)
        ref.weight_hh_l0.copy_(twin.Wh.T)
        ref.bias_ih_l0.copy_(twin.bx if hasattr(twin, "bx") else twin.b)
        ref.bias_hh_l0.copy_(twin.bh if hasattr(twin, "bh") else torch.zeros_like(twin.b))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_twin_equals_torch_nn_outputs_and_gradients(kind):
    g = torch.Generator().manual_seed(0)
    twin = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[kind](D, H, generator=g).double()
    ref = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
        D, H, batch_first=True
    ).double()
    _copy_into_torch_nn(twin, ref)
    x = torch.randn(N, T, D, dtype=torch.float64, generator=g)
    h0 = torch.randn(N, H, dtype=torch.float64, generator=g)
    c0 = torch.randn(N, H, dtype=torch.float64, generator=g)
    dh = torch.randn(N, T, H, dtype=torch.float64, generator=g)
    ours = twin(x, h0, c0) if kind == "lstm" else twin(x, h0)
    theirs, _ = ref(x, (h0[None], c0[None])) if kind == "lstm" else ref(x, h0[None])
    torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=0)
    (ours * dh).sum().backward()
    (theirs * dh).sum().backward()
    torch.testing.assert_close(twin.Wx.grad, ref.weight_ih_l0.grad.T, atol=1e-10, rtol=0)
    torch.testing.assert_close(twin.Wh.grad, ref.weight_hh_l0.grad.T, atol=1e-10, rtol=0)


def test_loss_rejects_bad_masks_and_shapes():
    logits, targets = torch.zeros(N, T, V), torch.zeros(N, T, dtype=torch.long)
    with pytest.raises(TypeError, match="boolean"):
        masked_cross_entropy(logits, targets, torch.ones(N, T))
    with pytest.raises(ValueError, match="no real token"):
        masked_cross_entropy(logits, targets, torch.zeros(N, T, dtype=torch.bool))
    with pytest.raises(ValueError, match="expected logits"):
        masked_cross_entropy(logits[0], targets, torch.ones(N, T, dtype=torch.bool))


def test_loss_of_uniform_logits_is_log_v():
    mask = torch.tensor(np.arange(T) < 3).expand(N, T)
    loss = masked_cross_entropy(torch.zeros(N, T, V), torch.zeros(N, T, dtype=torch.long), mask)
    assert abs(loss.item() - np.log(V)) < 1e-6
