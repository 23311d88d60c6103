"""The autograder: reads a learner's notebook, runs each exercise's tests against the reference.

Modules, bottom up: ``feedback`` (comparisons that explain themselves), ``registry`` (exercises,
their tests and their catalogues of typical mistakes), ``reference`` (the reference package, hidden
from learner code), ``loader`` (a notebook to a namespace of functions), ``learner`` (those
functions, failures turned into feedback), ``sandbox`` (the limits of a grading process),
``worker`` (one isolated grading process), ``runner`` (starts workers, enforces time limits,
survives crashes), ``submissions`` (what to grade: a learner's notebooks or a class's
submissions), ``gradebook`` (tables, JSON and CSV), ``mutants`` (solutions with a typical mistake
put in, for the mutation suite and benchmarks), ``spec`` (declarative tests, one source per
typical mistake), ``exNN`` (one module per exercise).
"""
