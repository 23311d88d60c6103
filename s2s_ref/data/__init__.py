"""Data for the course, offline and reproducible from a seed (ground floor: NumPy, babel,
num2words; never torch or ``numpy_nn``).

- ``vocab``: symbols <-> integer ids, with PAD = 0, SOS, EOS and UNK.
- ``batching``: padding to ``(N, T)`` with boolean masks, decoder input/target shifting, a seeded
  batch iterator.
- ``splits``: the held-out split by hash, so a test example never leaks into training.
- ``tasks``: algorithmic tasks (copy, reverse, sort, addition).
- ``dates``: human-written dates in six languages -> ISO ``YYYY-MM-DD`` (CLDR data via babel).
- ``numbers``: number words, English -> German words or digits (num2words).

Every ``make_*`` returns a list of ``(source tokens, target tokens)`` pairs, tokens being lists of
strings, so that one ``Vocab`` per side and ``make_batch`` serve every task.
"""
