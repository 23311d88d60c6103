"""The logistic sigmoid, the squashing function of every gate (LSTM and GRU).

Its own module so that the LSTM and the GRU share it without importing each other (the grader
hides each cell's module while a learner writes it).
Book: chapter 2, "Why gates".
"""

import numpy as np


def sigmoid(a, out=None):
    """The logistic function 1 / (1 + exp(-a)), written as (1 + tanh(a / 2)) / 2.

    a: any shape -> same shape (into ``out`` if given, which may be ``a`` itself). The tanh form
    never overflows (exp(-a) does for a < -88 in float32) and keeps the dtype.
    Book: chapter 2, "Why gates".
    """
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out
