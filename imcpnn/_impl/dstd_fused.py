"""Fused DSTD layers with hand-written backward passes: the convolutional RC-Spike layer and the TTFS layer, dense
and convolutional (arXiv 2412.09010v1 Eq. 37-44, Algorithms 3-4; Section 3.3: convolutions in place of the matmul).

The plain-autograd path (:func:`imcpnn._impl.dstd.rc_spike_conv2d_potential`, :func:`imcpnn._impl.dstd.ttfs`,
:func:`imcpnn._impl.dstd.ttfs_conv2d`) keeps the cumulative spike variables S [B, M, C, H, W] for the product's
backward and every elementwise intermediate at [B, M, O, H', W']. Here:

* S is built from each spike's interval index m_j and fraction (:func:`spike_positions`, :func:`spike_slices`)
  and folded into the batch; ONE product (convolution, or GEMM for the dense layer) with the concatenated weights
  [beta*w ; w] gives f~ and g~ (Eq. 37-38) as the two channel halves of one [B, M, 2O, ...] buffer;
* S is NOT saved: backward rebuilds it from (m_j as uint8, fraction, interval width), 9 bytes per input spike
  against 4 M for S; the elementwise terms are recomputed per interval slice in batch chunks, not stored;
* backward forms dL/d[f~ ; g~] in one buffer and calls the product's backward ONCE for both the weight gradient
  (dL/dw = the g~ half + beta * the f~ half; beta is piecewise constant in w) and dL/dS, from which the spike-time
  gradient is read at each spike's interval: dS_{j m_j}/dt_j = -1/h_j.

RC-Spike (:func:`rc_spike_conv2d_potential`): v(1) by the recurrence over the M intervals (:func:`rc_potential`, six
streaming passes per interval) and its adjoint (:func:`rc_potential_grads`). TTFS (:func:`ttfs`,
:func:`ttfs_conv2d`): the spike variables carry one extra slice, every arrived spike (the unbounded interval after
the grid, Eq. 44), so the same single product also gives its f and g; the threshold crossing is
:func:`imcpnn._impl.dstd_ttfs.crossing_forward` / ``crossing_backward`` in batch chunks sized to the cache.
Checked against the plain-autograd references in float64 (values and gradients) in tests/test_impl_dstd_fused.py.
"""

from __future__ import annotations

import torch
from torch.nn import functional as tnf

from imcpnn._impl import dstd, dstd_ttfs, piecewise


def spike_positions(t: torch.Tensor, points: torch.Tensor, widths: torch.Tensor):
    """Compact per-spike grid positions, the state saved for backward: (interval index m_j as uint8 / int16 / int64,
    the fraction of that interval after the spike (0 for a spike at +inf), the interval's width h (0 where empty or
    never arriving)); m_j = M for spikes at +inf. 9 bytes per input spike for M < 255, against 4 M for S."""
    steps = widths.shape[0]
    m_j, frac, h = dstd._spike_positions(t, points, widths)
    frac = torch.where(m_j < steps, frac, torch.zeros_like(frac))
    small = torch.uint8 if steps <= 254 else torch.int16 if steps <= 32766 else torch.int64
    return m_j.to(small), frac, h


def spike_slices(m_j: torch.Tensor, frac: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(S [B*k, ...], the long index of each spike's slice, clamped to k - 1): the cumulative spike variables
    (Eq. 36, 46-47) folded into the batch, from :func:`spike_positions`; k = M, or M + 1 for one extra slice of
    every arrived spike (1 for a finite time, 0 for +inf).

    The same values as :func:`imcpnn._impl.dstd.spike_variables`, built as clamp(m - m_j, 0, 1) (exact 0 / 1)
    with the fraction scattered into slice m_j: two streaming passes instead of a broadcast three-way ``where``."""
    shape = (1, k) + (1,) * (m_j.dim() - 1)
    m = torch.arange(k, dtype=frac.dtype, device=frac.device).view(shape)
    s = (m - m_j.unsqueeze(1).to(frac.dtype)).clamp_(0.0, 1.0)
    idx = m_j.clamp(max=k - 1).long().unsqueeze(1)
    s.scatter_(1, idx, frac.unsqueeze(1))
    return s.view(m_j.shape[0] * k, *m_j.shape[1:]), idx


def time_grad(grad_s: torch.Tensor, idx: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """dL/dt_j = -dL/dS_{j m_j} / h_j (0 where the spike's interval is empty or the spike never arrives); ``idx``
    from :func:`spike_slices`."""
    grad_s = grad_s.view(h.shape[0], -1, *h.shape[1:])
    pos = h > 0
    gs = grad_s.gather(1, idx).squeeze(1)
    return torch.where(pos, -gs / torch.where(pos, h, torch.ones_like(h)), torch.zeros_like(h))


def linear_op(s: torch.Tensor, w2: torch.Tensor, geom: tuple[int, int] | None) -> torch.Tensor:
    """``conv2d(s, w2)`` with ``geom`` = (stride, padding), or the dense ``s @ w2.T`` for ``geom`` None."""
    return s @ w2.t() if geom is None else tnf.conv2d(s, w2, stride=geom[0], padding=geom[1])


def linear_op_backward(grad_out, s, w2, geom: tuple[int, int] | None, need_input: bool, need_weight: bool):
    """(dL/dS, dL/dw2) of :func:`linear_op` (None where not needed); a convolution's in ONE backward call."""
    if geom is None:
        return (grad_out @ w2 if need_input else None), (grad_out.t() @ s if need_weight else None)
    stride, padding = geom
    gi, gw, _ = torch.ops.aten.convolution_backward(
        grad_out, s, w2, None, [stride] * 2, [padding] * 2, [1, 1], False, [0, 0], 1, [need_input, need_weight, False]
    )
    return gi, gw


def _weight_grad(grad_w2: torch.Tensor | None, weight: torch.Tensor, e_rev: tuple[float, float]):
    """dL/dw from dL/d[beta*w ; w]: the g~ half plus beta times the f~ half (beta is piecewise constant)."""
    if grad_w2 is None:
        return None
    o = weight.shape[0]
    return grad_w2[o:].addcmul_(grad_w2[:o], piecewise.beta(weight, *e_rev))


def _chunks(b: int, per_sample: int, device: torch.device) -> list[slice]:
    """Batch chunks of the per-interval loops (:func:`rc_potential`), about 2^19 elements of [B, M, ...] each on
    a CPU (bounded temporaries); the whole batch on an accelerator (one kernel launch per operation)."""
    return [slice(0, b)] if device.type != "cpu" else dstd._batch_chunks(b, per_sample, budget=1 << 19)


def _slice_chunks(b: int, per_sample: int, device: torch.device) -> list[slice]:
    """Batch chunks of the TTFS crossing loops on a CPU, about 2^15 elements of one [B, ...] interval slice each:
    the temporaries of an interval then stay in the core's cache (measured ~1.5x faster than whole-batch slices);
    the whole batch on an accelerator."""
    return [slice(0, b)] if device.type != "cpu" else dstd._batch_chunks(b, per_sample, budget=1 << 15)


_SMALL_A = 1e-2  # below this a = f d, phi'(a) by its Taylor series (as piecewise.final_potential_grads)
_interval = dstd_ttfs._interval  # (-a, expm1(-a), phi(a)) of one interval


def rc_potential(f: torch.Tensor, g: torch.Tensor, ds: list[float]) -> torch.Tensor:
    """v(1) from f~, g~ [B, M, ...] by the recurrence v_{m+1} = v_m e^{-a_m} + g_m d_m phi(a_m) (Eq. 33, 39):
    six streaming passes per interval on [B, ...] slices (the closed form of :func:`piecewise.final_potential`
    needs about twice as many over [B, M, ...]); empty intervals (d = 0) are skipped."""
    v = torch.zeros_like(f[:, 0])
    for m, d_m in enumerate(ds):
        if d_m > 0:
            _, em1, ph = _interval(f[:, m], d_m)
            v.addcmul_(v, em1).addcmul_(g[:, m], ph, value=d_m)
    return v


def rc_potential_grads(grad_v, f, g, ds: list[float], out_f: torch.Tensor, out_g: torch.Tensor) -> None:
    """Adjoint of :func:`rc_potential` into ``out_f``, ``out_g`` [B, M, ...]: the forward recurrence is recomputed
    (its per-interval terms kept for this chunk only), then with lam = dL/dv_{m+1}:
    dL/dg_m = lam d_m phi(a_m), dL/df_m = -lam d_m (v_m e^{-a_m} - d_m g_m phi'(a_m)), lam_m = lam e^{-a_m}."""
    v = torch.zeros_like(f[:, 0])
    terms: list = []
    for m, d_m in enumerate(ds):
        if d_m > 0:
            an, em1, ph = _interval(f[:, m], d_m)
            terms.append((an, em1, ph, v.clone() if m else None))
            v.addcmul_(v, em1).addcmul_(g[:, m], ph, value=d_m)
        else:
            terms.append(None)
    lam = grad_v.clone()
    for m in range(len(ds) - 1, -1, -1):
        if terms[m] is None:  # an empty interval: v passes through, f and g get no gradient
            out_f[:, m] = 0.0
            out_g[:, m] = 0.0
            continue
        an, em1, ph, v_m = terms[m]
        d_m = ds[m]
        # -phi'(a) = (1 + expm1(-a) - phi(a)) / (-a), its Taylor series 1/2 - a/3 + a^2/8 for small a
        dphi = torch.sub(em1, ph).add_(1.0).div_(an)
        small = an > -_SMALL_A
        if bool(small.any()):
            dphi = torch.where(small, an.mul(1.0 / 8.0).add_(1.0 / 3.0).mul_(an).add_(0.5), dphi)
        # q = v_m e^{-a} - d g phi'(a) = v_m + v_m expm1(-a) + d g (-phi'(a))
        q = torch.mul(g[:, m], dphi) if v_m is None else torch.addcmul(v_m, v_m, em1).addcmul_(g[:, m], dphi, value=d_m)
        if v_m is None:
            q.mul_(d_m)
        lam_d = lam * d_m
        torch.mul(q, lam_d, out=out_f[:, m]).neg_()
        torch.mul(ph, lam_d, out=out_g[:, m])
        lam.addcmul_(lam, em1)
        terms[m] = None


class _RCSpikeConvDSTD(torch.autograd.Function):
    """v(1) of a convolutional RC-Spike layer (Eq. 39-40): forward one fused S, one convolution, the recurrence
    in batch chunks (:func:`rc_potential`); saved: t, w, [f~ ; g~]; backward: S rebuilt, the recurrence's adjoint
    per chunk (:func:`rc_potential_grads`), one convolution backward."""

    @staticmethod
    def forward(ctx, t, weight, e_pos, e_neg, points, widths, stride, padding):  # noqa: D102
        b, steps, o = t.shape[0], widths.shape[0], weight.shape[0]
        m_j, frac, h = spike_positions(t, points, widths)
        s, _ = spike_slices(m_j, frac, steps)
        w2 = torch.cat([piecewise.beta_weight(weight, e_pos, e_neg), weight], 0)
        fg = linear_op(s, w2, (stride, padding))
        del s, w2
        fg = fg.view(b, steps, 2 * o, *fg.shape[2:])
        ds = [float(x) for x in widths.tolist()]
        per = steps * fg[0, 0].numel()
        v = torch.cat([rc_potential(fg[c, :, :o], fg[c, :, o:], ds) for c in _chunks(b, per, fg.device)])
        ctx.geom, ctx.e_rev = (stride, padding), (e_pos, e_neg)
        ctx.save_for_backward(m_j, frac, h, weight, fg, widths)
        return v

    @staticmethod
    def backward(ctx, grad_v):  # noqa: D102
        m_j, frac, h, weight, fg, widths = ctx.saved_tensors
        need_t, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        b, steps, o2 = fg.shape[:3]
        o = o2 // 2
        ds = [float(x) for x in widths.tolist()]
        grad_fg = torch.empty_like(fg)
        for c in _chunks(b, steps * fg[0, 0].numel(), fg.device):
            rc_potential_grads(grad_v[c], fg[c, :, :o], fg[c, :, o:], ds, grad_fg[c, :, :o], grad_fg[c, :, o:])
        s, idx = spike_slices(m_j, frac, steps)
        w2 = torch.cat([piecewise.beta_weight(weight, *ctx.e_rev), weight], 0)
        gs, gw2 = linear_op_backward(grad_fg.view(b * steps, o2, *fg.shape[3:]), s, w2, ctx.geom, need_t, need_w)
        del grad_fg, s
        grad_t = time_grad(gs, idx, h) if need_t else None
        return grad_t, _weight_grad(gw2, weight, ctx.e_rev), None, None, None, None, None, None


def rc_spike_conv2d_potential(
    t: torch.Tensor,
    weight: torch.Tensor,
    e_rev: tuple[float, float],
    steps: int,
    t_offset: torch.Tensor,
    stride: int,
    padding: int,
) -> torch.Tensor:
    """v(1) of a convolutional RC-Spike layer by DSTD, fused (:class:`_RCSpikeConvDSTD`). Returns [B, O, H', W'].

    Same value as :func:`imcpnn._impl.dstd.rc_spike_conv2d_potential` (the plain-autograd reference), with
    ``e_rev`` = (E_pos, E_neg) instead of a precomputed beta*w."""
    points, widths = dstd.grid(steps, t_offset)
    return _RCSpikeConvDSTD.apply(
        t, weight, float(e_rev[0]), float(e_rev[1]), points.detach(), widths.detach(), int(stride), int(padding)
    )


class _TTFSDSTD(torch.autograd.Function):
    """First threshold crossing of a TTFS layer (Eq. 41-44), dense (``geom`` None) or convolutional: ONE product
    over the M grid slices and the all-arrived slice; the crossing by :func:`dstd_ttfs.crossing_forward`; saved:
    t, w, [f ; g] on the M+1 intervals, the potentials at their starts, the crossing index and time; backward:
    the crossing's adjoint into one dL/d[f ; g] buffer, S rebuilt, one product backward."""

    @staticmethod
    def forward(ctx, t, weight, e_pos, e_neg, v_th, points, widths, geom):  # noqa: D102
        b, k, o = t.shape[0], widths.shape[0] + 1, weight.shape[0]
        m_j, frac, h = spike_positions(t, points, widths)
        s, _ = spike_slices(m_j, frac, k)
        w2 = torch.cat([piecewise.beta_weight(weight, e_pos, e_neg), weight], 0)
        fg = linear_op(s, w2, geom)
        del s, w2
        fg = fg.view(b, k, 2 * o, *fg.shape[2:])
        v = fg.new_empty(b, k, o, *fg.shape[3:])
        res = [
            dstd_ttfs.crossing_forward(fg[c, :, :o], fg[c, :, o:], points, widths, v_th, v[c])[:2]
            for c in _slice_chunks(b, fg[0, 0, :o].numel(), fg.device)
        ]
        out, idx = torch.cat([r[0] for r in res]), torch.cat([r[1] for r in res])
        ctx.geom, ctx.e_rev, ctx.v_th = geom, (e_pos, e_neg), v_th
        ctx.save_for_backward(m_j, frac, h, weight, fg, v, idx, out, points, widths)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        m_j, frac, h, weight, fg, v, idx, out, points, widths = ctx.saved_tensors
        need_t, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        b, k, o2 = fg.shape[:3]
        o = o2 // 2
        grad_fg = torch.empty_like(fg)
        for c in _slice_chunks(b, fg[0, 0, :o].numel(), fg.device):
            dstd_ttfs.crossing_backward(
                grad_out[c],
                fg[c, :, :o],
                fg[c, :, o:],
                v[c],
                idx[c],
                out[c],
                points,
                widths,
                ctx.v_th,
                grad_fg[c, :, :o],
                grad_fg[c, :, o:],
            )
        s, sidx = spike_slices(m_j, frac, k)
        w2 = torch.cat([piecewise.beta_weight(weight, *ctx.e_rev), weight], 0)
        gs, gw2 = linear_op_backward(grad_fg.view(b * k, o2, *fg.shape[3:]), s, w2, ctx.geom, need_t, need_w)
        del grad_fg, s
        grad_t = time_grad(gs, sidx, h) if need_t else None
        return grad_t, _weight_grad(gw2, weight, ctx.e_rev), None, None, None, None, None, None


def ttfs(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    e_rev: tuple[float, float],
    v_th: float,
    steps: int,
    t_offset: torch.Tensor,
    t_max: float = 1.0,
) -> torch.Tensor:
    """Dense TTFS layer by DSTD, fused (:class:`_TTFSDSTD`); [B, O], +inf where a neuron does not fire. Same value
    as :func:`imcpnn._impl.dstd.ttfs` (the plain-autograd reference), with ``e_rev`` = (E_pos, E_neg)."""
    points, widths = dstd.grid(steps, t_offset, t_max)
    return _TTFSDSTD.apply(
        t_in, weight, float(e_rev[0]), float(e_rev[1]), float(v_th), points.detach(), widths.detach(), None
    )


def ttfs_conv2d(
    t: torch.Tensor,
    weight: torch.Tensor,
    e_rev: tuple[float, float],
    v_th: float,
    steps: int,
    t_offset: torch.Tensor,
    t_max: float,
    stride: int,
    padding: int,
) -> torch.Tensor:
    """Convolutional TTFS layer by DSTD, fused (:class:`_TTFSDSTD`); +inf where a neuron does not fire. Same value
    as :func:`imcpnn._impl.dstd.ttfs_conv2d` (the plain-autograd reference), with ``e_rev`` = (E_pos, E_neg)."""
    points, widths = dstd.grid(steps, t_offset, t_max)
    return _TTFSDSTD.apply(
        t,
        weight,
        float(e_rev[0]),
        float(e_rev[1]),
        float(v_th),
        points.detach(),
        widths.detach(),
        (int(stride), int(padding)),
    )
