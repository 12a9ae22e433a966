"""Plain-autograd DSTD references (arXiv 2412.09010v1 Eq. 34-47, Algorithms 3-4).

The layers of :mod:`imcpnn.functional` run fused DSTD kernels with hand-written backward passes. This module
exposes the same computations written as plain tensor expressions that autograd differentiates, so that

* tests can check the fused kernels against them in float64 (values and gradients), and
* benchmarks can measure what the fusion buys (``make bench``).

They are slower and use more memory than the fused layers; train with :mod:`imcpnn.functional` or
:mod:`imcpnn.layers`. All take ``beta_weight`` = :func:`imcpnn.functional.beta_weight` ``(weight, e_rev)`` and a
0-d grid offset ``t_offset`` in [0, dtau), dtau = t_max / (steps - 1) (Eq. 34-35).

Example::

    import torch
    from imcpnn import functional as F, reference

    t = torch.rand(4, 8, dtype=torch.float64)
    w = torch.randn(3, 8, dtype=torch.float64)
    v1 = reference.rc_spike_potential(t, w, F.beta_weight(w, 4.0), 10, torch.tensor(0.0, dtype=torch.float64))
"""

from __future__ import annotations

from imcpnn._impl.dstd import rc_spike_conv2d_potential, ttfs, ttfs_conv2d
from imcpnn._impl.dstd import rc_spike_potential_reference as rc_spike_potential

__all__ = ["rc_spike_potential", "rc_spike_conv2d_potential", "ttfs", "ttfs_conv2d"]
