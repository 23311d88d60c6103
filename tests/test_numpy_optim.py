"""Adam, step by step against torch.optim on the same gradients."""

import numpy as np
import pytest
import torch

from s2s_ref.numpy_nn.optim import Adam

from .conftest import D, H

STEPS = 6


def _params(rng):
    return {"W": rng.normal(size=(D, H)), "b": rng.normal(size=H)}


def _run_both(ours, theirs_factory, rng):
    """The same random gradients fed to our optimiser and to torch's; parameters after each
    step -> list of (ours, torch's) dicts."""
    params = _params(rng)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    theirs = theirs_factory(tparams.values())
    state = ours.init(params)
    history = []
    for _ in range(STEPS):
        grads = {k: rng.normal(size=v.shape) * 3 for k, v in params.items()}
        params, state = ours.step(params, grads, state)
        for k, p in tparams.items():
            p.grad = torch.from_numpy(grads[k])
        theirs.step()
        history.append((params, {k: p.detach().numpy().copy() for k, p in tparams.items()}))
    return history


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9)])
def test_adam_matches_torch_step_by_step(rng, betas):
    history = _run_both(
        Adam(lr=0.01, beta1=betas[0], beta2=betas[1], eps=1e-6),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=betas, eps=1e-6),
        rng,
    )
    for ours, theirs in history:
        for k in ours:
            np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-10, atol=1e-12)


def test_adam_first_step_moves_every_parameter_by_about_lr(rng):
    """Bias correction: the first step is lr * g / |g|, whatever the gradient's scale."""
    params = _params(rng)
    grads = {
        k: rng.choice([-1, 1], v.shape) * rng.uniform(1, 2, v.shape) * 1e-3
        for k, v in params.items()
    }
    opt = Adam(lr=0.1)
    new, _ = opt.step(params, grads, opt.init(params))
    for k in params:
        np.testing.assert_allclose(np.abs(new[k] - params[k]), 0.1, rtol=1e-4)


def test_step_writes_into_nothing_it_was_given(rng):
    opt = Adam(lr=0.1)
    params = _params(rng)
    grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
    state = opt.init(params)
    _, state = opt.step(params, grads, state)  # a state with non-zero moments
    saved = [{k: v.copy() for k, v in d.items()} for d in (params, grads)]
    saved_state = {k: {n: a.copy() for n, a in v.items()} for k, v in state.items() if k != "t"}
    new, new_state = opt.step(params, grads, state)
    for d, s in zip((params, grads), saved, strict=True):
        for k in d:
            np.testing.assert_array_equal(d[k], s[k])
    for k, v in saved_state.items():
        for n, a in v.items():
            np.testing.assert_array_equal(state[k][n], a)
    assert all(not np.shares_memory(new[k], params[k]) for k in params)


def test_hyperparameters_are_frozen_and_checked():
    opt = Adam()
    with pytest.raises(AttributeError):
        opt.lr = 1.0
    with pytest.raises(ValueError, match=r"Adam: beta2 should be in \[0, 1\), got 1.0"):
        Adam(beta2=1.0)
    with pytest.raises(ValueError, match=r"Adam: lr should be in >= 0, got -0.1"):
        Adam(lr=-0.1)


def test_mismatched_names_and_shapes_raise_a_sentence(rng):
    params = _params(rng)
    opt = Adam(lr=0.1)
    state = opt.init(params)
    with pytest.raises(KeyError, match=r"grads has names \['W'\] but params has \['W', 'b'\]"):
        opt.step(params, {"W": params["W"]}, state)
    grads = {"W": params["W"].T, "b": params["b"]}
    with pytest.raises(
        ValueError, match=r"grads\['W'\] has shape \(6, 4\), params\['W'\] \(4, 6\)"
    ):
        opt.step(params, grads, state)
