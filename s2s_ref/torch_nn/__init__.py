"""PyTorch layers: twins of ``numpy_nn`` and fast modules built on ``torch.nn``.

Never imports ``numpy_nn``: parity between the two lives in ``tests/``.
Import from the modules (``from s2s_ref.torch_nn.convert import lstm_to_torch``).

- ``convert``: NumPy-layout LSTM/GRU weights <-> ``torch.nn.LSTM``/``GRU`` state dicts.
"""
