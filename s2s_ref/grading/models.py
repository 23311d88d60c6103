"""Language models given to a learner's decoders as step functions, built from plain data.

A ``StepModel`` is described by JSON (``{"kind": "random", "V", "seed", "temperature"}`` or
``{"kind": "table", "V", "table": [[prefix, {token: probability}], ...]}``), so the checker sends
the description and the worker builds the same model: ``step(tokens, state) -> (log_probs
(n, V), state)``. The state of a hypothesis is its row (source id, SOS, tokens so far); the
next-token distribution of a random model is drawn from a seed made of the whole row, so it is
the same whatever order hypotheses are asked in. Id 0 is SOS (never predicted), id 1 is EOS.
"""

import numpy as np

SOS, EOS = 0, 1


class StepModel:
    def __init__(self, kind: str, V: int, seed: int = 0, temperature: float = 1.5, table=None):
        if kind not in ("random", "table"):
            raise ValueError(f"a step model is 'random' or 'table', got {kind!r}")
        self.kind, self.V, self.seed, self.temperature = kind, int(V), int(seed), temperature
        self.table = {tuple(k): dict(v) for k, v in (table or {}).items()}

    def to_json(self) -> dict:
        table = [[list(k), {str(t): p for t, p in v.items()}] for k, v in self.table.items()]
        return dict(
            kind=self.kind, V=self.V, seed=self.seed, temperature=self.temperature, table=table
        )

    @classmethod
    def from_json(cls, spec: dict) -> "StepModel":
        table = {
            tuple(int(t) for t in k): {int(t): float(p) for t, p in v.items()}
            for k, v in spec.get("table", [])
        }
        return cls(
            spec["kind"], spec["V"], spec.get("seed", 0), spec.get("temperature", 1.5), table
        )

    def __call__(self, tokens, state):
        prefix = np.concatenate([np.asarray(state), np.asarray(tokens)[:, None]], axis=1)
        if self.kind == "table":
            log_probs = np.full((len(prefix), self.V), -np.inf)
            for i, row in enumerate(prefix):
                for token, p in self.table.get(tuple(row[2:].tolist()), {EOS: 1.0}).items():
                    log_probs[i, token] = np.log(p)
            return log_probs, prefix
        logits = (
            np.stack(
                [
                    np.random.default_rng([self.seed, int(row[0]), *row[2:].tolist()]).normal(
                        size=self.V
                    )
                    for row in prefix
                ]
            )
            * self.temperature
        )
        logits[:, SOS] = -np.inf
        top = logits.max(axis=1, keepdims=True)
        return logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True)), prefix
