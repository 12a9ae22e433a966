"""The IMC-aware neuron's parameters as one frozen object, validated once where it is made.

The nonideal neuron of arXiv 2412.09010v1 (Sec. 2.2, Eq. 7-11) charges its membrane through synapses whose
currents fall as the membrane voltage nears their reversal potentials E+ (excitatory) and E- (inhibitory);
the circuit's discharger (App. A, Eq. 82-85) adds an RC decay E_dis to the firing phase. How the layer's ODE
is solved (exact, DSTD with M grid points, adaptive ODE) is part of the neuron's description too, once for
training and once for evaluation (App. E).

:class:`Neuron` holds all of it. Layers (:mod:`imcpnn.layers`), model builders (:mod:`imcpnn.models`) and
the run config (:meth:`imcpnn.train.TrainConfig.neuron`) take it in place of their ``e_rev`` argument; the CLI
flag ``--erev`` and the sweep axis read the same text syntax (:func:`imcpnn.functional.parse_erev`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from imcpnn.functional import DSTD, ODE, Exact, Solver, format_erev, parse_erev

__all__ = ["Neuron"]


@dataclasses.dataclass(frozen=True)
class Neuron:
    """E+/E-, E_dis and the solvers of an IMC-aware neuron (arXiv 2412.09010v1 Eq. 7-11, 82-85, App. E).

    Args:
        e_rev: |E| > 0 (symmetric: E+ = E, E- = -E), a pair (E+, E-) with E+ > 0 > E-, ``math.inf`` for the
            ideal neuron, or the text form ``"4"``, ``"inf"``, ``"2.8:-1.53"``. Stored as the float |E| or the
            pair, as :func:`imcpnn.functional.parse_erev` returns it.
        e_dis: the discharger's reversal potential (Eq. 82-85), a number in (1, inf]; ``None`` (default) or
            ``inf`` is the ideal firing ramp. Only RC-Spike layers have a discharger.
        solver: the training-time solver: ``DSTD(steps, offset)`` (default ``DSTD(3)``: M = 3, random offset,
            the paper's RC-Spike setting), ``Exact()`` or ``ODE(...)``.
        test_solver: the evaluation-time solver; default ``DSTD(30, "fixed")`` when ``solver`` is DSTD (App. E),
            else ``solver`` itself.

    Example::

        import torch
        from imcpnn.functional import DSTD
        from imcpnn.layers import RCSpikeLinear
        from imcpnn.neuron import Neuron

        n = Neuron("2.8:-1.53", e_dis=3.0, solver=DSTD(4))
        assert (n.e_pos, n.e_neg, n.test_solver.steps) == (2.8, -1.53, 30)
        assert str(n) == (
            "Neuron(E=2.8:-1.53, E_dis=3, solver=dstd(M=4, offset=random), test_solver=dstd(M=30, offset=fixed))"
        )
        assert Neuron("inf").ideal and n.replace(e_dis=None).e_dis is None
        layer = RCSpikeLinear(6, 3, n)  # in place of e_rev: the layer takes E+/E-, E_dis and both solvers
        t_out = layer(torch.rand(2, 6))  # [2, 3]
    """

    e_rev: Any = 4.0
    e_dis: float | None = None
    solver: Solver = DSTD(3)
    test_solver: Solver | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "e_rev", parse_erev(self.e_rev))
        e_dis = self.e_dis
        if e_dis is not None:
            if isinstance(e_dis, bool) or not isinstance(e_dis, (int, float)) or math.isnan(e_dis) or not e_dis > 1:
                raise ValueError(f"e_dis must be None or a number in (1, inf], got {e_dis!r}")
            object.__setattr__(self, "e_dis", float(e_dis))
        for name in ("solver", "test_solver"):
            s = getattr(self, name)
            if not (isinstance(s, (Exact, DSTD, ODE)) or (name == "test_solver" and s is None)):
                raise ValueError(f"{name} must be Exact(), DSTD(steps, offset) or ODE(...), got {s!r}")
        if self.test_solver is None:
            default = DSTD(30, "fixed") if isinstance(self.solver, DSTD) else self.solver
            object.__setattr__(self, "test_solver", default)

    @property
    def e_pos(self) -> float:
        return self.e_rev[0] if isinstance(self.e_rev, tuple) else self.e_rev

    @property
    def e_neg(self) -> float:
        return self.e_rev[1] if isinstance(self.e_rev, tuple) else -self.e_rev

    @property
    def ideal(self) -> bool:
        """|E+-| = inf and no discharger: the ideal (ANN-like) neuron of Eq. 24-27."""
        return math.isinf(self.e_pos) and math.isinf(self.e_neg) and (self.e_dis is None or math.isinf(self.e_dis))

    def replace(self, **changes: Any) -> Neuron:
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        e_dis = "none" if self.e_dis is None else f"{self.e_dis:g}"
        return (
            f"Neuron(E={format_erev(self.e_rev)}, E_dis={e_dis}, solver={self.solver.describe()}, "
            f"test_solver={self.test_solver.describe()})"
        )
