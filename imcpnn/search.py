"""One bracketing coarse-to-fine search over a few real parameters (scales, factors), with a batched objective.

The scale searches of arXiv 2412.09010v1 and of its reproduction are all this one search: the current scale of
the Iris circuit (Sec. 4, Fig. 7; the (alpha+, alpha-) search of the ANN-to-IMC flow, Alg. 5), the weight scales
of the scaled-ANN baseline (App. F, Fig. 14) and the per-corner refit factor of the circuit study. As the solver
descriptions of :mod:`imcpnn.functional`, the search is a small frozen object, validated once
(:class:`CoarseToFine`), passed to one function (:func:`search`).

How it runs (``d`` coordinates per point):

1. ``start_points`` are evaluated first, as one batch; the incumbent is the best of them (``center``, if given,
   is the incumbent until a start point has an eligible value; without start points the incumbent is
   ``center``, which then has no value of its own).
2. For each step of ``spec.steps``, one stage: the neighbourhood of the incumbent (``"grid"``: the 3^d points
   at offsets -1, 0, +1 per coordinate, the incumbent's offset included; ``"axes"``: the 2d points one step
   away along one axis) is rounded, restricted to ``bounds`` and its new points are evaluated as one batch.
   With ``repeat_until_no_gain`` a step is repeated until its stage gains nothing, then the next step follows.
3. The incumbent moves to the best point of the stage's neighbourhood only when that point is STRICTLY better
   (an incumbent without a value is beaten by any eligible value); see the tie rules below.

Rules, each one place:

* **Points** are tuples of Python floats (a number is a 1-D point; numpy scalars are converted with ``float``),
  every coordinate rounded to ``round_to`` decimals (Python's correctly rounded :func:`round`); the rounded
  point is the key of the memo.
* **Memo**: no point is evaluated twice, neither across stages nor inside one batch; a batch holds only the
  new points, in neighbourhood order, and the objective is not called for an empty batch.
* **Steps**: ``"linear"``: a neighbour coordinate is ``b + o * step`` (o = -1, 0, +1); ``"log"``: ``step`` is a
  ratio, the neighbours are ``b / step`` and ``b * step``.
* **Bounds** (closed, ``lo <= x <= hi`` for every coordinate of a rounded point) restrict the neighbours only;
  start points are evaluated as given. A stage whose neighbours (the incumbent's own offset aside) all lie
  outside the bounds raises ValueError: the step does not fit the bounds.
* **Ties** between the values of one batch of start points or one neighbourhood: ``ties="first"`` takes the
  earliest evaluated point, so the incumbent is always the first best point seen (numpy's argmin / argmax,
  Python's ``min`` on a dict); ``ties="largest"`` takes the largest point in tuple order (Python's
  ``max((value, point))``). A tie with the incumbent never moves it.
* **Eligible values**: every value, or with ``finite_only`` only finite ones (inf and NaN are recorded but can
  never become the best). NaN compares as no better than anything: it is chosen only by an incumbent without
  a value (the way numpy's argmin would return it when every value is NaN).
* **Budget**: ``max_evals`` is checked before every stage; once that many points were evaluated no stage
  starts (a started stage is never cut short, so up to one neighbourhood more may be evaluated).

Example, a 1-D minimum on a 0.1 then 0.033 grid (the quick Iris plan of one scale)::

    from imcpnn.search import CoarseToFine, search

    spec = CoarseToFine(steps=(0.1, 0.1 / 3), bounds=(1e-6, float("inf")))
    res = search(lambda pts: [(p[0] - 0.87) ** 2 for p in pts], [], spec, center=(1.0,))
    res.points  # [(0.9,), (1.0,), (1.1,), (0.866667,), (0.933333,)]: 0.9 +- 0.033, 0.9 itself memoised
    res.best  # (0.866667,)
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["CoarseToFine", "SearchResult", "search"]

Point = tuple[float, ...]
SCALES = ("linear", "log")
NEIGHBOURS = ("grid", "axes")
TIES = ("first", "largest")


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


@dataclasses.dataclass(frozen=True)
class CoarseToFine:
    """A coarse-to-fine search (see the module text for the rules).

    ``steps``: one stage per step (numbers > 0; on the ``"log"`` scale ratios); ``scale``: ``"linear"`` or
    ``"log"``; ``neighbours``: ``"grid"`` (3^d points) or ``"axes"`` (2d points); ``minimise``: minimise (else
    maximise); ``bounds``: the closed box (lo, hi) of every coordinate of a neighbour; ``repeat_until_no_gain``:
    repeat each step while its stage moves the incumbent (needs ``max_evals``); ``max_evals``: the budget checked
    before each stage (None: no budget); ``round_to``: decimals of every coordinate (None: no rounding);
    ``ties``: ``"first"`` or ``"largest"``; ``finite_only``: only finite values can become the best.
    """

    steps: Sequence[float] = ()
    scale: str = "linear"
    neighbours: str = "grid"
    minimise: bool = True
    bounds: tuple[float, float] = (-math.inf, math.inf)
    repeat_until_no_gain: bool = False
    max_evals: int | None = None
    round_to: int | None = 6
    ties: str = "first"
    finite_only: bool = False

    def __post_init__(self) -> None:
        try:
            steps = tuple(self.steps)
        except TypeError:
            raise ValueError(f"steps must be a sequence of finite numbers > 0, got {self.steps!r}") from None
        if not all(_is_number(s) and math.isfinite(s) and s > 0 for s in steps):
            raise ValueError(f"steps must be a sequence of finite numbers > 0, got {self.steps!r}")
        object.__setattr__(self, "steps", tuple(float(s) for s in steps))
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        if self.neighbours not in NEIGHBOURS:
            raise ValueError(f"neighbours must be one of {NEIGHBOURS}, got {self.neighbours!r}")
        if self.ties not in TIES:
            raise ValueError(f"ties must be one of {TIES}, got {self.ties!r}")
        for name in ("minimise", "repeat_until_no_gain", "finite_only"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        b = self.bounds
        if (
            not isinstance(b, (tuple, list))
            or len(b) != 2
            or not all(_is_number(x) and not math.isnan(x) for x in b)
            or not b[0] <= b[1]
        ):
            raise ValueError(f"bounds must be (lo, hi) with numbers lo <= hi (inf allowed, no NaN), got {b!r}")
        object.__setattr__(self, "bounds", (float(b[0]), float(b[1])))
        if self.max_evals is not None and (not _is_int(self.max_evals) or self.max_evals < 0):
            raise ValueError(f"max_evals must be None or an integer >= 0, got {self.max_evals!r}")
        if self.repeat_until_no_gain and self.max_evals is None:
            raise ValueError("max_evals must be an integer >= 0 when repeat_until_no_gain is True, got None")
        if self.round_to is not None and (not _is_int(self.round_to) or self.round_to < 0):
            raise ValueError(f"round_to must be None or an integer >= 0, got {self.round_to!r}")


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """``best``: the final incumbent (``center`` or the first start point when no eligible value was found);
    ``best_value``: its value (None then); ``points`` / ``values``: every evaluation, in evaluation order."""

    best: Point
    best_value: Any
    points: list[Point]
    values: list[Any]


def _as_point(p: Any, name: str) -> Point:
    try:
        coords = tuple(p)
    except TypeError:  # a number: a 1-D point
        coords = (p,)
    try:
        point = tuple(float(c) for c in coords)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers or sequences of numbers, got {p!r}") from None
    if not point:
        raise ValueError(f"{name} must hold points with at least one coordinate, got {p!r}")
    return point


def search(
    objective: Callable[[list[Point]], Sequence[Any]],
    start_points: Sequence[Any],
    spec: CoarseToFine,
    *,
    center: Any = None,
) -> SearchResult:
    """Run the coarse-to-fine search ``spec`` (a :class:`CoarseToFine`) from ``start_points`` (evaluated first,
    as one batch) and/or ``center`` (the incumbent until an eligible value is found).

    ``objective`` maps a list of points (tuples of floats) to the list of their values, in order; it is called
    once per batch of new points (e.g. one SPICE batch). Values need only compare with ``<`` and ``==``."""
    if not isinstance(spec, CoarseToFine):
        raise TypeError(f"spec must be a CoarseToFine, got {type(spec).__name__}")
    starts = [_as_point(p, "start_points") for p in start_points]
    inc = _as_point(center, "center") if center is not None else None
    if inc is None and not starts:
        raise ValueError("start_points must not be empty when no center is given")
    dims = {len(p) for p in starts} | ({len(inc)} if inc is not None else set())
    if len(dims) != 1:
        raise ValueError(f"start_points and center must have one number of coordinates, got {sorted(dims)}")
    d = dims.pop()

    def rnd(x: float) -> float:
        return x if spec.round_to is None else round(x, spec.round_to)

    def better(v: Any, w: Any) -> bool:
        return v < w if spec.minimise else v > w

    def eligible(v: Any) -> bool:
        return not spec.finite_only or math.isfinite(v)

    memo: dict[Point, int] = {}  # point -> its index in points / values
    points: list[Point] = []
    values: list[Any] = []

    def evaluate(cands: list[Point]) -> list[Point]:
        """Evaluate the new points of ``cands`` as one batch; returns ``cands`` without repeats."""
        distinct = list(dict.fromkeys(cands))
        new = [p for p in distinct if p not in memo]
        if new:
            out = list(objective(list(new)))
            if len(out) != len(new):
                raise ValueError(f"objective must return one value per point: {len(out)} values for {len(new)}")
            for p, v in zip(new, out, strict=True):
                memo[p] = len(points)
                points.append(p)
                values.append(v)
        return distinct

    def pick(cands: list[Point]) -> int | None:
        """Index of the best eligible point of ``cands`` under the tie rule (None: none eligible)."""
        best = None
        for p in cands:
            i = memo[p]
            v = values[i]
            if not eligible(v):
                continue
            if best is None or better(v, values[best]):
                best = i
            elif v == values[best] and (i < best if spec.ties == "first" else p > points[best]):
                best = i
        return best

    inc_index: int | None = None

    def offer(cands: list[Point]) -> bool:
        """Move the incumbent to the best of ``cands`` if it is strictly better; returns whether it moved."""
        nonlocal inc, inc_index
        b = pick(cands)
        if b is None or (inc_index is not None and not better(values[b], values[inc_index])):
            return False
        inc, inc_index = points[b], b
        return True

    if starts:
        offer(evaluate([tuple(rnd(c) for c in p) for p in starts]))
        if inc is None:
            inc = points[memo[tuple(rnd(c) for c in starts[0])]]

    if spec.neighbours == "grid":
        offsets = list(itertools.product((-1, 0, 1), repeat=d))
    else:
        offsets = [tuple(o if k == j else 0 for k in range(d)) for j in range(d) for o in (-1, 1)]
    lo, hi = spec.bounds

    def move(b: float, o: int, step: float) -> float:
        if spec.scale == "linear":
            return b + o * step
        return b / step if o < 0 else b * step if o > 0 else b

    for step in spec.steps:
        while True:
            if spec.max_evals is not None and len(points) >= spec.max_evals:
                return SearchResult(inc, _value(values, inc_index), points, values)
            assert inc is not None
            nbhd = [(any(off), tuple(rnd(move(b, o, step)) for b, o in zip(inc, off, strict=True))) for off in offsets]
            inside = [(moved, p) for moved, p in nbhd if all(lo <= c <= hi for c in p)]
            if not any(moved for moved, _ in inside):
                raise ValueError(
                    f"no neighbour of {inc} at step {step} lies within bounds {spec.bounds}: the step does not fit"
                )
            gain = offer(evaluate([p for _, p in inside]))
            if not (spec.repeat_until_no_gain and gain):
                break
    assert inc is not None
    return SearchResult(inc, _value(values, inc_index), points, values)


def _value(values: list[Any], index: int | None) -> Any:
    return None if index is None else values[index]
