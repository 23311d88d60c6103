"""A typical mistake written once: the words the learner reads and the wrong value it produces.

``Simulated(message, produce)``: ``produce(*inputs)`` recomputes, from the reference's weights and
the test's inputs, the value a learner with that mistake returns; ``Simulated.arrays(mistakes,
*inputs)`` gives ``check_array`` its {message: producer} table, and the exercise's catalogue
(``registry.Mistake``) names the same ``message`` as the feedback a mutant must get.
"""

import torch


class Simulated:
    def __init__(self, message: str, produce):
        self.message, self.produce = message, produce

    @staticmethod
    def arrays(mistakes, *inputs) -> dict:
        """{message: a function giving the mistaken value as an ndarray} (without autograd)."""

        def produce(f):
            with torch.no_grad():
                value = f(*inputs)
            return value.detach().numpy() if isinstance(value, torch.Tensor) else value

        return {m.message: (lambda f=m.produce: produce(f)) for m in mistakes}
