"""Private implementation of the functional core: one module per solver family (exact, DSTD, ODE), the shared
closed-form kernels (piecewise), the solver descriptions (solvers) and the argument checks (validate).

Nothing here is public API: use :mod:`imcpnn.functional` and :mod:`imcpnn.layers`.
"""
