"""NumPy-layout LSTM/GRU weights <-> ``torch.nn.LSTM``/``GRU`` (and ``*Cell``) state dicts.

The course stores weights as ``(in, out)`` and computes ``x @ Wx``; torch stores ``(out, in)`` and
computes ``x @ W.T``, with the gates stacked in the same order (LSTM i, f, g, o; GRU r, z, n).
So the conversion is a transpose, plus a bias split for the LSTM, whose single bias ``b`` is
torch's ``bias_ih + bias_hh``. Works on plain arrays; the arrays returned never share memory
with the arguments.

``suffix`` picks the key names: ``"_l0"`` for layer 0 of ``nn.LSTM``/``nn.GRU`` (the default),
``""`` for ``nn.LSTMCell``/``nn.GRUCell``.
Book: chapter 2, "Same weights as torch.nn".
"""

import numpy as np
import torch

from s2s_ref.shapes import ShapeError, check_shapes


def lstm_to_torch(Wx, Wh, b, suffix="_l0"):
    """Wx: (D, 4H), Wh: (H, 4H), b: (4H,) -> state dict of float tensors for nn.LSTM.

    bias_ih gets all of b and bias_hh zeros: only their sum matters.
    """
    _check("lstm_to_torch", 4, Wh=(Wh, "H 4H"), Wx=(Wx, "D 4H"), b=(b, "4H"))
    return {
        f"weight_ih{suffix}": _tensor(np.transpose(Wx)),
        f"weight_hh{suffix}": _tensor(np.transpose(Wh)),
        f"bias_ih{suffix}": _tensor(b),
        f"bias_hh{suffix}": torch.zeros_like(_tensor(b)),
    }


def lstm_from_torch(state_dict, suffix="_l0"):
    """State dict of nn.LSTM (weight_ih (4H, D), weight_hh (4H, H), biases (4H,))
    -> Wx: (D, 4H), Wh: (H, 4H), b: (4H,) NumPy arrays, b = bias_ih + bias_hh."""
    Wx, Wh, b_ih, b_hh = _arrays(state_dict, suffix)
    _check(
        "lstm_from_torch",
        4,
        Wh=(Wh, "H 4H"),
        Wx=(Wx, "D 4H"),
        bias_ih=(b_ih, "4H"),
        bias_hh=(b_hh, "4H"),
    )
    return Wx, Wh, b_ih + b_hh


def gru_to_torch(Wx, Wh, bx, bh, suffix="_l0"):
    """Wx: (D, 3H), Wh: (H, 3H), bx: (3H,), bh: (3H,) -> state dict of tensors for nn.GRU.

    The GRU keeps both biases: the reset gate multiplies h @ Wh_n + bh_n, so bx_n and bh_n
    act differently and cannot be merged.
    """
    _check("gru_to_torch", 3, Wh=(Wh, "H 3H"), Wx=(Wx, "D 3H"), bx=(bx, "3H"), bh=(bh, "3H"))
    return {
        f"weight_ih{suffix}": _tensor(np.transpose(Wx)),
        f"weight_hh{suffix}": _tensor(np.transpose(Wh)),
        f"bias_ih{suffix}": _tensor(bx),
        f"bias_hh{suffix}": _tensor(bh),
    }


def gru_from_torch(state_dict, suffix="_l0"):
    """State dict of nn.GRU -> Wx: (D, 3H), Wh: (H, 3H), bx: (3H,), bh: (3H,) NumPy arrays."""
    Wx, Wh, bx, bh = _arrays(state_dict, suffix)
    _check("gru_from_torch", 3, Wh=(Wh, "H 3H"), Wx=(Wx, "D 3H"), bx=(bx, "3H"), bh=(bh, "3H"))
    return Wx, Wh, bx, bh


def _tensor(array):
    return torch.tensor(np.array(array))  # np.array copies: the tensor owns its memory


def _arrays(state_dict, suffix):
    """The four entries of one layer, as NumPy copies with weights transposed to (in, out)."""
    names = [f"{kind}{suffix}" for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    missing = [name for name in names if name not in state_dict]
    if missing:
        raise KeyError(
            f"state dict has no {', '.join(missing)} (has {', '.join(state_dict)}); "
            f'suffix="_l0" reads nn.LSTM/nn.GRU, suffix="" reads nn.LSTMCell/nn.GRUCell'
        )
    w_ih, w_hh, b_ih, b_hh = (state_dict[name].detach().cpu().numpy() for name in names)
    return w_ih.T.copy(), w_hh.T.copy(), b_ih.copy(), b_hh.copy()


def _check(func, gates, **specs):
    """check_shapes with Wh first: Wh alone fixes H and the gate axis, so a transposed or
    wrongly stacked Wh is named as such before the other arguments are compared with it."""
    G = f"{gates}H"
    sizes = check_shapes(func, Wh=specs["Wh"])
    if sizes[G] != gates * sizes["H"]:
        raise ShapeError(
            f"{func}: Wh should have shape (H, {G}), {gates} gates of H columns stacked, got "
            f"{np.shape(specs['Wh'][0])}; the weights and biases should have {G} = "
            f"{gates * sizes['H']} entries along the gate axis"
        )
    check_shapes(func, **specs)
