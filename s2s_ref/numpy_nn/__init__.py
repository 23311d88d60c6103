"""NumPy layers with hand-written backward passes (never imports torch).

Import from the modules (``from s2s_ref.numpy_nn.rnn import rnn_forward``): the package does not
re-export them, so that the grader can hide one chapter's module while a learner writes it.
Conventions: batch-first ``(N, T, .)``, weights ``(in, out)`` used as ``x @ W``, boolean masks with
True for real tokens; a forward returns ``(out, cache)``, its backward takes ``(dout, cache)`` and
returns gradients in the forward's argument order.
"""
