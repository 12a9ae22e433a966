"""imcpnn.search (the one coarse-to-fine search) and its three call sites: the Iris current-scale search
(arXiv 2412.09010v1 Sec. 4, Fig. 7), the scaled-ANN scales of App. F and the corner refit factor. Each call site
is checked against a verbatim copy of the search it replaced: the same points, in the same order and the same
batches, and the same result, ties included."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from imcpnn.repro import circuit_robustness as cr
from imcpnn.repro import fmnist_mlp as X
from imcpnn.repro import iris_circuit as ic
from imcpnn.search import CoarseToFine, SearchResult, search

# ------------------------------------------------------------------------------------------------------------
# the three searches as they were (copied verbatim; only the function names carry an _old_ prefix). The fmnist
# ones call the module-level ``evaluate`` below, which asks the "model" (a recording callable) for the accuracy.


def evaluate(model, x, y, *, e_rev=None, test_steps=None, weight_scale=None, seed=0):
    return model(weight_scale)


def _old_coarse_to_fine(
    objective: Callable[[list], list[float]], center: Sequence[float], step: float, stages: int, shrink: float = 1 / 3
) -> tuple[list, list]:
    """Coarse-to-fine grid search in 1 or 2 dimensions: each stage evaluates the 3^d grid of spacing ``step``
    around the incumbent (centre included only in the first stage), then divides ``step`` by 1/``shrink``.
    ``objective`` maps a list of points to their values. Returns (points, values) of every evaluation."""
    d = len(center)
    if d not in (1, 2) or stages < 1 or not step > 0:
        raise ValueError(f"center must have 1 or 2 entries, stages >= 1, step > 0; got {center}, {stages}, {step}")
    pts, vals = [], []
    best = tuple(float(c) for c in center)
    for _ in range(stages):
        offs = [(-1,), (0,), (1,)] if d == 1 else [(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)]
        cand = [tuple(round(b + o * step, 6) for b, o in zip(best, off)) for off in offs]
        cand = [c for c in cand if min(c) > 0 and c not in pts]
        if cand:
            pts += cand
            vals += list(objective(cand))
        best = pts[int(np.argmin(vals))]
        step *= shrink
    return pts, vals


def _old_scale_values(lo: float = 0.5, hi: float = 2.0, step: float = 0.1) -> list[float]:
    """The App. F scaling grid: lo, lo + step, ..., hi (rounded to avoid float drift)."""
    if not (0 < lo <= hi and step > 0):
        raise ValueError(f"need 0 < lo <= hi and step > 0, got lo={lo}, hi={hi}, step={step}")
    n = int(round((hi - lo) / step)) + 1
    return [round(lo + i * step, 10) for i in range(n)]


def _old_scale_grid(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    e_rev: Any,
    alphas: list[float],
    *,
    test_steps: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Accuracy on the full (alpha+, alpha-) grid: array [len(alphas) (alpha+), len(alphas) (alpha-)]."""
    acc = np.zeros((len(alphas), len(alphas)))
    for i, a_pos in enumerate(alphas):
        for j, a_neg in enumerate(alphas):
            acc[i, j] = evaluate(
                model, x, y, e_rev=e_rev, test_steps=test_steps, weight_scale=(a_pos, a_neg), seed=seed
            )
    return acc


def _old_scale_search(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    e_rev: Any,
    *,
    step: float = 0.1,
    start: tuple[float, float] = (1.0, 1.0),
    lo: float = 0.1,
    hi: float = 5.0,
    test_steps: int | None = None,
    seed: int = 0,
    max_evals: int = 200,
) -> tuple[tuple[float, float], float, int]:
    """Greedy walk on the 0.1 grid of (alpha+, alpha-): from ``start``, move to the best of the 8 neighbours
    while it improves (ties: stay). Returns ((alpha+, alpha-), accuracy, number of evaluations)."""
    seen: dict[tuple[float, float], float] = {}

    def acc(p: tuple[float, float]) -> float:
        if p not in seen:
            seen[p] = evaluate(model, x, y, e_rev=e_rev, test_steps=test_steps, weight_scale=p, seed=seed)
        return seen[p]

    cur = (round(start[0], 10), round(start[1], 10))
    best = acc(cur)
    while len(seen) < max_evals:
        nbrs = [
            (round(cur[0] + da * step, 10), round(cur[1] + db * step, 10))
            for da in (-1, 0, 1)
            for db in (-1, 0, 1)
            if (da, db) != (0, 0)
        ]
        nbrs = [p for p in nbrs if lo - 1e-9 <= p[0] <= hi + 1e-9 and lo - 1e-9 <= p[1] <= hi + 1e-9]
        a, p = max((acc(p), p) for p in nbrs)
        if a <= best:
            break
        best, cur = a, p
    return cur, best, len(seen)


def _old_coarse_to_fine_scales(
    model,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    e_rev: Any,
    *,
    coarse: tuple[float, float, float] = (0.5, 3.0, 0.5),
    test_steps: int | None = None,
    seed: int = 0,
) -> tuple[tuple[float, float], float, int]:
    """The scaled-ANN weight scales of App. F, chosen on VALIDATION data: the best point of a coarse
    (alpha+, alpha-) grid, then a greedy walk on the 0.1 grid from it. Returns (scales, validation accuracy,
    evaluations)."""
    alphas = _old_scale_values(*coarse)
    grid = _old_scale_grid(model, x_val, y_val, e_rev, alphas, test_steps=test_steps, seed=seed)
    i, j = np.unravel_index(np.argmax(grid), grid.shape)
    scales, acc, n = _old_scale_search(
        model, x_val, y_val, e_rev, start=(alphas[i], alphas[j]), test_steps=test_steps, seed=seed
    )
    return scales, acc, n + grid.size


def _old_factor_search(evaluate, factors, refine) -> tuple[float, list[float]]:
    """A log-spaced 1-D search: ``evaluate`` (factor -> objective, inf when it cannot be evaluated) on every
    factor of ``factors``, then for each r of ``refine`` on best / r and best x r. Returns (the best factor, 1.0
    when no value is finite; the factors evaluated, each once, rounded to 6 digits)."""
    vals: dict[float, float] = {}

    def ev(f: float) -> None:
        f = round(float(f), 6)
        if f not in vals:
            vals[f] = float(evaluate(f))

    def best() -> float:
        finite = {f: v for f, v in vals.items() if math.isfinite(v)}
        return min(finite, key=finite.get) if finite else 1.0

    for f in factors:
        ev(f)
    for r in refine:
        b = best()
        ev(b / r)
        ev(b * r)
    return best(), list(vals)


# ------------------------------------------------------------------------------------------------------------
# random objectives with ties


class Recorder:
    """A deterministic function of the point that records every call (and every batch)."""

    def __init__(self, f: Callable[[tuple], Any]) -> None:
        self.f = f
        self.calls: list[tuple] = []
        self.batches: list[list[tuple]] = []

    def __call__(self, p: Any) -> Any:
        p = tuple(p) if isinstance(p, (tuple, list)) else p
        self.calls.append(p)
        return self.f(p)

    def batch(self, pts: list) -> list:
        self.batches.append(list(pts))
        return [self(p) for p in pts]


def _table(levels: Sequence[Any], seed: int) -> Callable[[Any], Any]:
    return lambda p: levels[hash((seed, p)) % len(levels)]


def _bowl(center: Sequence[float], q: float, sign: float = 1.0, log: bool = False) -> Callable[[Any], float]:
    """A bowl rounded to multiples of ``q``: many ties, and walks that go somewhere."""

    def f(p: Any) -> float:
        p = p if isinstance(p, tuple) else (p,)
        g = (lambda v: math.log(v) if v > 0 else -50.0) if log else (lambda v: v)
        d = sum((g(a) - g(c)) ** 2 for a, c in zip(p, center, strict=False))
        return sign * round(d / q) * q

    return f


@st.composite
def objectives(draw, d: int, levels: Sequence[Any], sign: float = 1.0, log: bool = False, lo=0.1, hi=3.0):
    if draw(st.booleans()):
        center = draw(st.lists(st.floats(lo, hi), min_size=d, max_size=d))
        return _bowl(center, draw(st.sampled_from([0.5, 0.1, 0.02, 0.005])), sign, log)
    vals = draw(st.lists(st.sampled_from(levels), min_size=1, max_size=4))
    return _table(vals, draw(st.integers(0, 2**31)))


def _run(f: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", f()
    except ValueError:
        return "ValueError", None


# ------------------------------------------------------------------------------------------------------------
# the call sites evaluate what they evaluated and return what they returned


@settings(max_examples=200, deadline=None)
@given(
    d=st.sampled_from([1, 2]),
    coords=st.lists(st.one_of(st.sampled_from([1.0, 0.5, 0.05, -0.05, -0.5]), st.floats(-0.5, 2.5)), min_size=2),
    step=st.one_of(st.sampled_from([0.1, 0.15, 0.2]), st.floats(0.01, 1.0)),
    stages=st.integers(1, 4),
    shrink=st.one_of(st.sampled_from([1 / 3, 0.5, 1.0, 1.5]), st.floats(0.2, 2.0)),
    data=st.data(),
)
def test_iris_coarse_to_fine_is_unchanged(d, coords, step, stages, shrink, data):
    center = tuple(coords[:d])
    f = data.draw(objectives(d, [0.0, 1.0, 2.0, math.inf]))
    old, new = Recorder(f), Recorder(f)
    a = _run(lambda: _old_coarse_to_fine(old.batch, center, step, stages, shrink))
    b = _run(lambda: ic.coarse_to_fine(new.batch, center, step, stages, shrink))
    assert b == a
    assert new.batches == old.batches  # the same SPICE batches, in the same order


def test_iris_coarse_to_fine_quick_plans_are_unchanged():
    for plan in (ic.search_points(ic.SETTINGS["quick"], flow) for flow in ("pnn", "ann")):
        for f in (_bowl((1.07, 0.93), 1e-4), _table([0.0, 1.0], 3), lambda p: 1.0):
            old, new = Recorder(f), Recorder(f)
            a = _old_coarse_to_fine(old.batch, plan["center"], plan["step"], plan["stages"])
            assert ic.coarse_to_fine(new.batch, plan["center"], plan["step"], plan["stages"]) == a
            assert new.batches == old.batches and len(a[0]) == (5 if len(plan["center"]) == 1 else 17)


@settings(max_examples=200, deadline=None)
@given(
    fixed=st.sampled_from([None] * 10 + [(1.0, 1.0), (0.5, 2.0), (0.1, 5.0)]),
    rel=st.tuples(st.floats(-0.1, 1.1), st.floats(-0.1, 1.1)),
    step=st.one_of(st.sampled_from([0.1, 0.01, 0.2]), st.floats(0.005, 1.0)),
    lo=st.one_of(st.sampled_from([0.1, 0.05]), st.floats(0.01, 2.0)),
    width=st.one_of(st.just(4.9), st.floats(1.0, 4.0), st.floats(1.0, 4.0), st.floats(0.0, 1.0)),
    max_evals=st.integers(0, 80),
    data=st.data(),
)
def test_fmnist_scale_search_is_unchanged(fixed, rel, step, lo, width, max_evals, data):
    hi = lo + width
    start = fixed or (lo + rel[0] * width, lo + rel[1] * width)  # mostly inside [lo, hi], some outside
    f = data.draw(objectives(2, [0.0, 0.25, 0.5, 1.0], sign=-1.0, lo=0.05, hi=5.0))
    old, new = Recorder(f), Recorder(f)
    kw = dict(step=step, start=start, lo=lo, hi=hi, max_evals=max_evals)
    a = _run(lambda: _old_scale_search(old, None, None, 2.0, **kw))
    with mock.patch.object(X, "evaluate", evaluate):
        b = _run(lambda: X.scale_search(new, None, None, 2.0, **kw))
    assert b == a
    assert new.calls == old.calls


@settings(max_examples=200, deadline=None)
@given(
    coarse=st.one_of(
        st.sampled_from([(0.5, 3.0, 0.5), (0.8, 1.2, 0.2), (0.5, 2.0, 0.1)]),
        st.tuples(st.floats(0.05, 2.0), st.floats(0.0, 2.0), st.floats(0.05, 1.0)).map(
            lambda t: (t[0], t[0] + t[1], t[2])
        ),
    ),
    data=st.data(),
)
def test_fmnist_coarse_to_fine_scales_is_unchanged(coarse, data):
    f = data.draw(objectives(2, [0.0, 0.5, 1.0], sign=-1.0, lo=0.1, hi=4.0))
    old, new = Recorder(f), Recorder(f)
    a = _run(lambda: _old_coarse_to_fine_scales(old, None, None, 2.0, coarse=coarse))
    with mock.patch.object(X, "evaluate", evaluate):
        b = _run(lambda: X.coarse_to_fine_scales(new, None, None, 2.0, coarse=coarse))
    assert b == a
    assert new.calls == old.calls


@settings(max_examples=200, deadline=None)
@given(
    factors=st.lists(
        st.one_of(st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 1.0000004]), st.floats(0.01, 10.0)), max_size=6
    ),
    refine=st.lists(st.one_of(st.sampled_from([2**0.5, 2**0.25, 2.0, 1.0, 0.5]), st.floats(0.3, 4.0)), max_size=4),
    data=st.data(),
)
def test_circuit_factor_search_is_unchanged(factors, refine, data):
    f = data.draw(objectives(1, [0.0, 1.0, 2.0, math.inf, math.nan], log=True, lo=0.05, hi=8.0))
    old, new = Recorder(f), Recorder(f)
    a = _run(lambda: _old_factor_search(old, factors, refine))
    b = _run(lambda: cr.factor_search(new, factors, refine))
    assert b == a
    assert new.calls == old.calls


def test_points_on_the_edge_of_the_bounds_are_searched_as_before():
    """Iris: the smallest positive 6-digit point 1e-6 is a candidate; App. F: a neighbour equal to lo - 1e-9."""
    old, new = Recorder(lambda p: 1.0), Recorder(lambda p: 1.0)
    a = _old_coarse_to_fine(old.batch, (0.100001,), 0.1, 1)
    assert ic.coarse_to_fine(new.batch, (0.100001,), 0.1, 1) == a and (1e-06,) in a[0]
    assert new.batches == old.batches
    lo = 0.020000001
    assert lo - 1e-9 == 0.02
    old, new = Recorder(lambda p: -sum(p)), Recorder(lambda p: -sum(p))
    a = _old_scale_search(old, None, None, 2.0, start=(0.12, 0.12), lo=lo, max_evals=9)
    with mock.patch.object(X, "evaluate", evaluate):
        assert X.scale_search(new, None, None, 2.0, start=(0.12, 0.12), lo=lo, max_evals=9) == a
    assert new.calls == old.calls and a[0] == (0.02, 0.02)


def test_the_repro_settings_are_unchanged():
    """The searches the profiles run: the corner refit (FACTORS, refine 2^0.5 then 2^0.25) on a typical and an
    all-inf objective; the App. F walk from the default start."""
    for f in (_bowl((1.7,), 0.01, log=True), lambda p: math.inf, _table([1.0, math.inf], 7)):
        old, new = Recorder(f), Recorder(f)
        assert cr.factor_search(new, cr.FACTORS, (2**0.5, 2**0.25)) == _old_factor_search(
            old, cr.FACTORS, (2**0.5, 2**0.25)
        )
        assert new.calls == old.calls
    f = _bowl((1.43, 0.61), 0.001, sign=-1.0)
    old, new = Recorder(f), Recorder(f)
    with mock.patch.object(X, "evaluate", evaluate):
        assert X.coarse_to_fine_scales(new, None, None, 4.0) == _old_coarse_to_fine_scales(old, None, None, 4.0)
    assert new.calls == old.calls and len(new.calls) > 36 + 9


# ------------------------------------------------------------------------------------------------------------
# the search object


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(steps=(0.1, 0.0)), r"steps must be a sequence of finite numbers > 0"),
        (dict(steps=(-1.0,)), r"steps .*> 0"),
        (dict(steps=(math.nan,)), r"steps .*finite"),
        (dict(steps=(math.inf,)), r"steps .*finite"),
        (dict(steps=0.1), r"steps must be a sequence"),
        (dict(steps=("a",)), r"steps"),
        (dict(scale="cubic"), r"scale must be one of \('linear', 'log'\)"),
        (dict(neighbours="ring"), r"neighbours must be one of \('grid', 'axes'\)"),
        (dict(ties="last"), r"ties must be one of \('first', 'largest'\)"),
        (dict(minimise="yes"), r"minimise must be True or False"),
        (dict(finite_only=1), r"finite_only must be True or False"),
        (dict(bounds=(2.0, 1.0)), r"bounds must be \(lo, hi\) with numbers lo <= hi"),
        (dict(bounds=(math.nan, 1.0)), r"bounds .*no NaN"),
        (dict(bounds=(1.0,)), r"bounds must be \(lo, hi\)"),
        (dict(max_evals=-1), r"max_evals must be None or an integer >= 0"),
        (dict(max_evals=1.5), r"max_evals must be None or an integer >= 0"),
        (dict(repeat_until_no_gain=True), r"max_evals must be an integer >= 0 when repeat_until_no_gain"),
        (dict(round_to=-1), r"round_to must be None or an integer >= 0"),
        (dict(round_to=2.0), r"round_to must be None or an integer >= 0"),
    ],
)
def test_invalid_settings_name_the_argument_and_its_range(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CoarseToFine(**kwargs)


def test_settings_are_normalised_and_frozen():
    spec = CoarseToFine(steps=[1, np.float64(0.5)], bounds=[0, 2], max_evals=np.int64(3))
    assert spec.steps == (1.0, 0.5) and spec.bounds == (0.0, 2.0)
    assert all(type(s) is float for s in spec.steps)
    with pytest.raises(AttributeError):
        spec.steps = (2.0,)  # type: ignore[misc]


def test_invalid_calls_name_the_argument():
    f = Recorder(lambda p: 0.0).batch
    with pytest.raises(ValueError, match="start_points must not be empty when no center"):
        search(f, [], CoarseToFine())
    with pytest.raises(ValueError, match="one number of coordinates"):
        search(f, [(1.0, 2.0)], CoarseToFine(), center=(1.0,))
    with pytest.raises(ValueError, match="start_points must hold"):
        search(f, [("a",)], CoarseToFine())
    with pytest.raises(ValueError, match="at least one coordinate"):
        search(f, [()], CoarseToFine())
    with pytest.raises(TypeError, match="spec must be a CoarseToFine"):
        search(f, [1.0], {"steps": (1.0,)})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="objective must return one value per point: 1 values for 3"):
        search(lambda pts: [0.0], [], CoarseToFine(steps=(1.0,), neighbours="grid"), center=(1.0,))


def test_the_module_example():
    spec = CoarseToFine(steps=(0.1, 0.1 / 3), bounds=(1e-6, math.inf))
    res = search(lambda pts: [(p[0] - 0.87) ** 2 for p in pts], [], spec, center=(1.0,))
    assert res.points == [(0.9,), (1.0,), (1.1,), (0.866667,), (0.933333,)]
    assert res.best == (0.866667,) and res.best_value == pytest.approx((0.866667 - 0.87) ** 2)
    assert isinstance(res, SearchResult)


def test_neighbourhoods_steps_and_scales():
    rec = Recorder(lambda p: 1.0)
    search(rec.batch, [], CoarseToFine(steps=(0.5,), neighbours="axes"), center=(1.0, 2.0))
    assert rec.batches == [[(0.5, 2.0), (1.5, 2.0), (1.0, 1.5), (1.0, 2.5)]]
    rec = Recorder(lambda p: 1.0)
    search(rec.batch, [], CoarseToFine(steps=(0.5,), neighbours="grid"), center=(1.0, 2.0))
    assert rec.batches[0][:3] == [(0.5, 1.5), (0.5, 2.0), (0.5, 2.5)] and len(rec.batches[0]) == 9
    rec = Recorder(lambda p: 1.0)
    search(rec.batch, [], CoarseToFine(steps=(3.0,), scale="log", neighbours="axes"), center=(2.0,))
    assert rec.batches == [[(0.666667,), (6.0,)]]  # 2 / 3 and 2 x 3, rounded to 6 digits
    rec = Recorder(lambda p: 1.0)
    search(rec.batch, [], CoarseToFine(steps=(3.0,), scale="log", round_to=None), center=(2.0,))
    assert rec.batches == [[(2.0 / 3.0,), (2.0,), (6.0,)]]


def test_tie_rules():
    flat = Recorder(lambda p: 0.0)
    start = [(1.0,), (3.0,), (2.0,)]
    assert search(flat.batch, start, CoarseToFine()).best == (1.0,)
    assert search(flat.batch, start, CoarseToFine(ties="largest")).best == (3.0,)
    # a tie with the incumbent never moves it, whatever the rule
    for ties in ("first", "largest"):
        res = search(flat.batch, [(2.0,)], CoarseToFine(steps=(1.0, 0.5), ties=ties))
        assert res.best == (2.0,) and res.best_value == 0.0
    # NaN is never better than a value
    res = search(lambda pts: [math.nan if p[0] > 1 else 5.0 for p in pts], [(1.0,), (2.0,)], CoarseToFine())
    assert res.best == (1.0,)


def test_finite_only_keeps_the_center_until_a_finite_value():
    res = search(lambda pts: [math.inf] * len(pts), [0.5, 2.0], CoarseToFine(finite_only=True), center=1.0)
    assert res.best == (1.0,) and res.best_value is None and res.points == [(0.5,), (2.0,)]
    res = search(lambda pts: [math.inf] * len(pts), [0.5, 2.0], CoarseToFine())
    assert res.best == (0.5,) and res.best_value == math.inf  # inf is a value unless finite_only
    res = search(lambda pts: [math.nan] * len(pts), [0.5, 2.0], CoarseToFine(finite_only=True))
    assert res.best == (0.5,) and res.best_value is None  # no center: the first start point, without a value


def test_a_step_that_leaves_the_bounds_raises():
    with pytest.raises(ValueError, match=r"no neighbour of \(1.0,\) at step 5.0 lies within bounds \(0.0, 2.0\)"):
        search(lambda pts: [0.0] * len(pts), [1.0], CoarseToFine(steps=(5.0,), bounds=(0.0, 2.0)))


def test_max_evals_is_checked_before_each_stage():
    down = Recorder(lambda p: -sum(p))  # a slope: the walk never stops by itself
    spec = CoarseToFine(steps=(1.0,), minimise=False, repeat_until_no_gain=True, max_evals=12)
    res = search(down.batch, [(0.0, 0.0)], spec)
    # 1 start point, then 8 new neighbours (9 < 12: go on), then 5 new ones (14 >= 12: stop)
    assert [len(b) for b in down.batches] == [1, 8, 5] and len(res.points) == 14
    assert res.best == (-2.0, -2.0)
    res = search(down.batch, [(0.0, 0.0)], CoarseToFine(steps=(1.0,), max_evals=0))
    assert res.points == [(0.0, 0.0)]  # the start points are always evaluated


@settings(max_examples=200, deadline=None)
@given(
    d=st.integers(1, 3),
    starts=st.lists(st.lists(st.floats(-3.0, 3.0), min_size=3, max_size=3), max_size=4),
    steps=st.lists(st.one_of(st.sampled_from([1.0, 0.5, 2.0]), st.floats(0.01, 3.0)), max_size=4),
    scale=st.sampled_from(["linear", "log"]),
    neighbours=st.sampled_from(["grid", "axes"]),
    minimise=st.booleans(),
    bounds=st.tuples(st.floats(-4.0, 1.0), st.floats(0.0, 5.0)).map(sorted).map(tuple),
    repeat=st.booleans(),
    max_evals=st.one_of(st.none(), st.integers(0, 60)),
    round_to=st.one_of(st.none(), st.integers(0, 8)),
    ties=st.sampled_from(["first", "largest"]),
    finite_only=st.booleans(),
    data=st.data(),
)
def test_search_properties(
    d, starts, steps, scale, neighbours, minimise, bounds, repeat, max_evals, round_to, ties, finite_only, data
):
    if repeat and max_evals is None:
        max_evals = 40
    spec = CoarseToFine(
        steps=steps,
        scale=scale,
        neighbours=neighbours,
        minimise=minimise,
        bounds=bounds,
        repeat_until_no_gain=repeat,
        max_evals=max_evals,
        round_to=round_to,
        ties=ties,
        finite_only=finite_only,
    )
    start = [tuple(s[:d]) for s in starts]
    center = tuple(data.draw(st.lists(st.floats(0.1, 3.0), min_size=d, max_size=d))) if not start else None
    f = Recorder(data.draw(objectives(d, [0.0, 1.0, 2.0, math.inf], lo=-1.0, hi=3.0)))
    try:
        res = search(f.batch, start, spec, center=center)
    except ValueError as err:
        assert "lies within bounds" in str(err)
        assume(False)
    n_start = len({tuple(round(c, round_to) if round_to is not None else c for c in p) for p in start})
    pts = [p for b in f.batches for p in b]
    # memo: every point once, batches never empty, the result lists every evaluation in order
    assert len(pts) == len(set(pts)) == len(res.points) and res.points == pts
    assert all(f.batches) and res.values == [f.f(p) for p in pts]
    # bounds: every point the search stepped to (the start points aside) lies in the closed box
    assert all(bounds[0] <= c <= bounds[1] for p in pts[n_start:] for c in p)
    # budget: a stage starts only below max_evals, and adds at most one neighbourhood
    size = 3**d if neighbours == "grid" else 2 * d
    if max_evals is not None:
        assert len(pts) <= max(max_evals, n_start) + size - 1 or len(pts) == n_start
    assert len(f.batches) <= (1 if start else 0) + len(steps) * (max_evals + 1 if repeat else 1)
    # the best: the best eligible value, the first (ties="first") or a largest point (ties="largest")
    ok = [(i, v) for i, v in enumerate(res.values) if not finite_only or math.isfinite(v)]
    if not ok:
        assert res.best_value is None and res.best == (center if center is not None else pts[0])
    else:
        target = (min if minimise else max)(v for _, v in ok)
        assert res.best_value == target
        if ties == "first":
            assert res.best == pts[next(i for i, v in ok if v == target)]
        assert res.best in pts
