"""Solver descriptions of the IMC-aware neuron, validated once (the diffrax pattern: small frozen objects passed
to one entry point).

* :class:`Exact`: the event-driven closed form on sorted spikes (arXiv 2412.09010v1 Eq. 12-33);
* :class:`DSTD`: differentiable spike-time discretization on ``steps`` grid points with a grid ``offset``
  (Eq. 34-47, Algorithms 3-4);
* :class:`ODE`: adaptive numerical integration with torchdiffeq (an independent reference), with a step cap.

The string form of the functional API (``method="dstd", steps=10, offset="fixed"``) is sugar for these objects;
:func:`solver_from` builds them, and it is the ONLY place where ``steps`` and ``offset`` are checked.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

__all__ = ["Exact", "DSTD", "ODE", "Solver", "METHODS", "solver_from"]

METHODS = ("exact", "ode", "dstd")
OFFSETS = ("random", "fixed")
ODE_METHODS = ("dopri5", "dopri8", "bosh3", "adaptive_heun", "fehlberg2")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclasses.dataclass(frozen=True)
class Exact:
    """The exact event-driven solution (Eq. 12-33).

    Example::

        import math

        import torch
        from imcpnn import Exact, rc_spike_potential, ttfs

        t_in, w = torch.rand(4, 6), torch.randn(3, 6)
        v1 = rc_spike_potential(t_in, w, 4.0, method=Exact())  # v(1) of the accumulation phase (Eq. 21-25)
        t_out = ttfs(t_in, w.abs(), (2.8, -1.53), method=Exact())  # first crossings of v_th = 1; +inf if none
        ideal = rc_spike_potential(t_in, w, math.inf, method=Exact())  # |E| = inf: (1 - t_in) @ w.T
        assert torch.allclose(ideal, (1 - t_in) @ w.T)
    """

    name = "exact"

    def describe(self) -> str:
        return "exact"


@dataclasses.dataclass(frozen=True)
class DSTD:
    """DSTD with M = ``steps`` >= 2 grid points and a grid ``offset`` (Eq. 34-35): ``"random"`` (U(0, dtau),
    drawn anew on every call), ``"fixed"`` (0) or a number in [0, dtau), dtau = t_max / (steps - 1).

    Example::

        import torch
        from imcpnn import DSTD, Exact, rc_spike_potential

        t_in, w = torch.rand(4, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
        v_exact = rc_spike_potential(t_in, w, 4.0, method=Exact())
        for m in (3, 10, 30):  # the discretization error falls as the grid gets finer (Eq. 34-40)
            v_dstd = rc_spike_potential(t_in, w, 4.0, method=DSTD(m, "fixed"))
            print(m, DSTD(m).dtau(), float((v_dstd - v_exact).abs().max()))
        train_solver = DSTD(3)  # the paper's RC-Spike training setting: M = 3, a fresh random offset per call
        print(train_solver.describe())  # dstd(M=3, offset=random)
    """

    steps: int
    offset: str | float = "random"
    name = "dstd"

    def __post_init__(self) -> None:
        if not _is_int(self.steps) or self.steps < 2:
            raise ValueError(f"steps (the number of DSTD grid points M) must be an integer >= 2, got {self.steps!r}")
        off = self.offset
        if isinstance(off, str):
            if off not in OFFSETS:
                raise ValueError(f"offset must be 'random', 'fixed' or a number in [0, dtau), got {off!r}")
        elif isinstance(off, bool) or not isinstance(off, (int, float)) or not math.isfinite(off) or off < 0:
            raise ValueError(f"offset must be 'random', 'fixed' or a number in [0, dtau), got {off!r}")
        else:
            object.__setattr__(self, "offset", float(off))  # checked against dtau where t_max is known

    def dtau(self, t_max: float = 1.0) -> float:
        return t_max / (self.steps - 1)

    def check_offset(self, t_max: float = 1.0) -> None:
        """A numeric offset must lie in [0, dtau) of the grid on [0, t_max]."""
        if isinstance(self.offset, float) and not (0.0 <= self.offset < self.dtau(t_max)):
            raise ValueError(
                f"offset must lie in [0, dtau) = [0, {self.dtau(t_max):g}) for steps={self.steps}, t_max={t_max:g}; "
                f"got {self.offset!r}"
            )

    def grid_offset(self, like: torch.Tensor, t_max: float = 1.0) -> torch.Tensor:
        """The offset as a 0-d tensor (a fresh U(0, dtau) draw for ``"random"``)."""
        self.check_offset(t_max)
        if self.offset == "random":
            return torch.rand((), dtype=like.dtype, device=like.device) * self.dtau(t_max)
        if self.offset == "fixed":
            return like.new_zeros(())
        return like.new_tensor(float(self.offset))

    def describe(self) -> str:
        return f"dstd(M={self.steps}, offset={self.offset})"


@dataclasses.dataclass(frozen=True)
class ODE:
    """Adaptive ODE integration (torchdiffeq). ``rtol``/``atol`` default by dtype (float64: 1e-10/1e-12,
    float32: 1e-6/1e-8); ``max_steps`` caps the solver's steps per solve so that a stiff problem stops with a
    clear error (default ``None``: 10 steps per input spike + 1000, ample for every non-stiff layer).

    Example::

        import torch
        from imcpnn import ODE, Exact, rc_spike_potential, ttfs

        t_in, w = torch.rand(4, 6, dtype=torch.float64), torch.rand(3, 6, dtype=torch.float64)
        v_ode = rc_spike_potential(t_in, w, (2.8, -1.53), method=ODE())  # float64: rtol 1e-10, atol 1e-12
        assert torch.allclose(v_ode, rc_spike_potential(t_in, w, (2.8, -1.53), method=Exact()), atol=1e-8)
        t_ode = ttfs(t_in, w, 4.0, method=ODE(rtol=1e-8, atol=1e-10, max_steps=500))  # an independent check
        assert torch.allclose(t_ode, ttfs(t_in, w, 4.0, method=Exact()), atol=1e-5)  # of the closed form
    """

    rtol: float | None = None
    atol: float | None = None
    method: str = "dopri5"
    adjoint: bool = False
    max_steps: int | None = None
    name = "ode"

    def __post_init__(self) -> None:
        for key in ("rtol", "atol"):
            v = getattr(self, key)
            if v is not None and (
                isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0)
            ):
                raise ValueError(f"ode_options[{key!r}] must be a finite number > 0, got {v!r}")
        if self.method not in ODE_METHODS:
            raise ValueError(f"ode_options['method'] must be one of {ODE_METHODS}, got {self.method!r}")
        if not isinstance(self.adjoint, bool):
            raise ValueError(f"ode_options['adjoint'] must be True or False, got {self.adjoint!r}")
        if self.max_steps is not None and (not _is_int(self.max_steps) or self.max_steps < 1):
            raise ValueError(f"ode_options['max_steps'] must be an integer >= 1, got {self.max_steps!r}")

    def tolerances(self, dtype: torch.dtype) -> tuple[float, float]:
        rtol, atol = (1e-10, 1e-12) if dtype == torch.float64 else (1e-6, 1e-8)
        return (self.rtol if self.rtol is not None else rtol), (self.atol if self.atol is not None else atol)

    def step_cap(self, n_spikes: int) -> int:
        return self.max_steps if self.max_steps is not None else 10 * n_spikes + 1000

    def describe(self) -> str:
        return f"ode({self.method}, rtol={self.rtol}, atol={self.atol})"


Solver = Exact | DSTD | ODE


def solver_from(
    method: str | Solver = "exact",
    steps: int | None = None,
    offset: str | float | None = "random",
    ode_options: dict | None = None,
) -> Solver:
    """A solver description from the string sugar (or a description passed through unchanged).

    ``method="dstd"`` needs ``steps``; ``steps``/``offset`` with another method and ``ode_options`` with a
    method other than ``"ode"`` are errors rather than silently ignored.
    """
    if isinstance(method, (Exact, DSTD, ODE)):
        if steps is not None or ode_options is not None:
            raise ValueError("pass steps/offset/ode_options inside the solver object, not beside it")
        return method
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(
            f"method must be one of {METHODS} or a solver object (Exact(), DSTD(...), ODE(...)), got {method!r}"
        )
    if method != "ode" and ode_options is not None:
        raise ValueError(f"ode_options is only for method='ode', got method={method!r}")
    if method != "dstd" and steps is not None:
        raise ValueError(f"steps is only for method='dstd', got method={method!r} with steps={steps!r}")
    if method == "dstd":
        if steps is None:
            raise ValueError("steps (the number of DSTD grid points M) is required for method='dstd'; use steps >= 2")
        if offset is None:
            raise ValueError("offset must be 'random', 'fixed' or a number in [0, dtau), got None")
        return DSTD(steps, offset)
    if not (isinstance(offset, str) and offset in OFFSETS) and offset is not None:
        raise ValueError(f"offset is only for method='dstd', got offset={offset!r} with method={method!r}")
    if method == "exact":
        return Exact()
    if not isinstance(ode_options, (dict, type(None))):
        raise ValueError(f"ode_options must be a dict, got {type(ode_options).__name__}")
    opts = dict(ode_options or {})
    allowed = {f.name for f in dataclasses.fields(ODE)}
    unknown = set(opts) - allowed
    if unknown:
        raise ValueError(f"unknown ode_options keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    return ODE(**opts)
