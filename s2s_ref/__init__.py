"""Reference package of the course *Sequence to Sequence from Scratch*.

Floors, imported one way (a module never imports a floor above its own):

- ground: ``shapes``, ``gradcheck``, ``data``, ``decoding``
- ``numpy_nn`` (never imports torch) and ``torch_nn`` (never imports ``numpy_nn``)
- ``grading`` (uses the two above as the reference)
- top: ``grade`` (the command line), ``checks`` (what notebooks call), benchmarks
"""

__version__ = "0.1.0"
