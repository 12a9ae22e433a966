"""The reproduction of arXiv 2412.09010v1: one module per experiment (named like its notebook), plus the run
profiles, the compute-or-load cache, the paper's reference numbers and the report renderer.

The library (:mod:`imcpnn.functional`, :mod:`imcpnn.layers`, :mod:`imcpnn.models`, :mod:`imcpnn.train`,
:mod:`imcpnn.spice`, ...) never imports this package.
"""
