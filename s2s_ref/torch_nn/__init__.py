"""PyTorch layers: twins of ``numpy_nn`` (same names and layouts) and fast production modules.

Never imports ``numpy_nn``: parity between the two lives in ``tests/test_parity_*.py``.
Import from the modules (``from s2s_ref.torch_nn.cells import GRU``).

- ``cells``: RNN, LSTM and GRU twins with ``Wx (D, G*H)``, ``Wh (H, G*H)`` and biases, used as
  ``x @ Wx`` exactly like the NumPy reference; ``embedding``, ``loss``: the other twins.
- ``convert``: NumPy-layout LSTM/GRU weights <-> ``torch.nn.LSTM``/``GRU`` state dicts.
- ``seq2seq``: the fast encoder-decoder on ``nn.GRU``/``nn.LSTM`` (cuDNN on GPUs), packed.
- ``search``: batched greedy and beam search; ``devices``: device and precision choice;
  ``training``: the training loop with checkpoints.
"""
