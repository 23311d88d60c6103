"""Reference package of the course *Sequence to Sequence from Scratch*.

Floors, imported one way (a module never imports a floor above its own; tests/test_layers.py
checks it):

- ground: ``atomic``, ``shapes``, ``gradcheck``, ``metrics``, ``teacher_forcing``, ``decoding``,
  ``data``, ``diagrams`` (NumPy, matplotlib and data libraries only)
- ``numpy_nn`` (never imports torch) and ``torch_nn`` (never imports ``numpy_nn``: parity lives
  in tests/)
- ``grading`` (uses the two above as the reference)
- top: ``grade`` (the command line), ``classroom`` and ``autograder`` (grading on push, Classroom
  50), ``checks`` (what notebooks call), ``make_exercises``, ``assets`` (data files the package
  ships), ``bench`` and ``experiments`` (scripts)
"""

__version__ = "0.1.0"
