"""The autograder: reads a learner's notebook, runs each exercise's tests against the reference.

Modules, bottom up: ``feedback`` (comparisons that explain themselves), ``registry`` (exercises
and their tests), ``reference`` (the reference package, hidden from learner code), ``loader`` (a
notebook to a namespace of functions), ``learner`` (those functions, failures turned into feedback),
``worker`` (one isolated grading process), ``runner`` (starts workers, enforces time limits,
survives crashes), ``exNN`` (one module of tests per exercise).
"""
