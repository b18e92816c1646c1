"""Windowed reductions: reduce_window_sum / _max / _min (JAX's primitives) and
lax.reduce_window, which dispatches to them (average and max pooling).

The implementation pads and dilates the operand with the monoid's identity, then folds
the window: one strided slice per window position, combined in place, so no buffer
larger than the output is made beyond the padded operand.
"""
import itertools
import math

import numpy as np

from tinyjax import dtypes
from tinyjax.core.ir import ShapedArray
from tinyjax.ops import common, reduction, structural
from tinyjax.ops.conv import _dilate, _out_size


def _identity(kind, dtype):
    dtype = np.dtype(dtype)
    if kind == 'sum':
        return np.zeros((), dtype)
    if kind == 'prod':
        return np.ones((), dtype)
    if dtypes.is_bool(dtype):
        return np.asarray(kind == 'min')
    if dtypes.is_inexact(dtype):
        return np.asarray(-np.inf if kind == 'max' else np.inf, dtype)
    info = np.iinfo(dtype)
    return np.asarray(info.min if kind == 'max' else info.max, dtype)


def _abstract(name):
    def rule(x, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        for what, v in (('window_dimensions', window_dimensions),
                        ('window_strides', window_strides), ('padding', padding),
                        ('base_dilation', base_dilation), ('window_dilation', window_dilation)):
            if len(v) != x.ndim:
                raise TypeError(f'{name}: got {what}={v} for an operand of shape {x.shape}; '
                                'pass one entry per operand dimension (1 for dimensions '
                                'that are not pooled).')
        for what, v in (('window_dimensions', window_dimensions),
                        ('window_strides', window_strides), ('base_dilation', base_dilation),
                        ('window_dilation', window_dilation)):
            if any(s < 1 for s in v):
                raise TypeError(f'{name}: {what} must be positive, got {v} (operand shape '
                                f'{x.shape})')
        shape = tuple(_out_size(n, k, s, bd, wd, lo, hi) for n, k, s, bd, wd, (lo, hi) in zip(
            x.shape, window_dimensions, window_strides, base_dilation, window_dilation, padding))
        return ShapedArray(shape, x.dtype, x.weak_type)
    return rule


def _fill_dilated(xp, x, base_dilation, padding, fill):
    """x dilated by base_dilation and padded, the holes and pads holding `fill`
    (negative padding crops)."""
    if all(d == 1 for d in base_dilation) and all(lo == hi == 0 for lo, hi in padding):
        return x
    full = [_dilate(n, d) + max(lo, 0) + max(hi, 0)
            for n, d, (lo, hi) in zip(x.shape, base_dilation, padding)]
    buf = xp.full(tuple(full), fill, dtype=x.dtype)
    buf[tuple(slice(max(lo, 0), max(lo, 0) + _dilate(n, d), d)
              for n, d, (lo, _) in zip(x.shape, base_dilation, padding))] = x
    return buf[tuple(slice(max(-lo, 0), max(f - max(-hi, 0), max(-lo, 0)))
                     for f, (lo, hi) in zip(full, padding))]


def _impl(kind):
    def rule(xp, x, window_dimensions, window_strides, padding, base_dilation,
             window_dilation):
        out_shape = _abstract(kind)(ShapedArray(x.shape, x.dtype), window_dimensions,
                                    window_strides, padding, base_dilation,
                                    window_dilation).shape
        ident = _identity(kind, x.dtype)
        if math.prod(out_shape) == 0:
            return xp.zeros(out_shape, x.dtype)
        combine = {'sum': xp.add, 'max': xp.maximum, 'min': xp.minimum}[kind]
        x = _fill_dilated(xp, x, base_dilation, padding, ident)
        out = None
        for pos in itertools.product(*[range(k) for k in window_dimensions]):
            window = x[tuple(slice(p * wd, p * wd + _dilate(n, s), s) for p, wd, n, s in
                             zip(pos, window_dilation, out_shape, window_strides))]
            if out is None:
                out = window.copy()
            else:
                combine(out, window, out=out)
        return out
    return rule


def _params_batch(p):
    """vmap: a window of 1 over the mapped axis."""
    def rule(args, dims, window_dimensions, window_strides, padding, base_dilation,
             window_dilation):
        x = common.move_batch_axis(args[0], dims[0], 0)
        return p.bind(x, window_dimensions=(1,) + window_dimensions,
                      window_strides=(1,) + window_strides, padding=((0, 0),) + padding,
                      base_dilation=(1,) + base_dilation,
                      window_dilation=(1,) + window_dilation), 0
    return rule


def _sum_jvp(primals, tangents, **params):
    out = reduce_window_sum_p.bind(primals[0], **params)
    t = tangents[0]
    return out, None if t is None else reduce_window_sum_p.bind(t, **params)


def _sum_transpose(ct, x, window_dimensions, window_strides, padding, base_dilation,
                   window_dilation):
    """Each input element receives the cotangent of every window that covers it: a
    window sum over the cotangent dilated by the strides, with the roles of strides and
    base dilation swapped (the window is symmetric, so no flip)."""
    if ct is None:
        return [None]
    shape, ct_shape = x.aval.shape, common.aval_of(ct).shape
    pads = []
    for n, k, s, bd, wd, (lo, _), y in zip(shape, window_dimensions, window_strides,
                                           base_dilation, window_dilation, padding, ct_shape):
        t_lo = _dilate(k, wd) - 1 - lo
        pads.append((t_lo, _dilate(n, bd) + _dilate(k, wd) - 1 - _dilate(y, s) - t_lo))
    return [reduce_window_sum_p.bind(
        ct, window_dimensions=window_dimensions, window_strides=base_dilation,
        padding=tuple(pads), base_dilation=window_strides, window_dilation=window_dilation)]


def _windows(x, fill, window_dimensions, window_strides, padding, base_dilation,
             window_dilation, out_shape):
    """Every window position's strided slice of x (padded and dilated with `fill`),
    stacked on a new leading axis: (window size, *out_shape). Built from pad, slice and
    concatenate, so derivatives flow through it."""
    xp = structural.pad(x, common.scalar(fill, common.aval_of(x).dtype),
                        tuple((lo, hi, bd - 1) for (lo, hi), bd in zip(padding, base_dilation)))
    parts = []
    for pos in itertools.product(*[range(k) for k in window_dimensions]):
        start = [p * wd for p, wd in zip(pos, window_dilation)]
        limit = [st + _dilate(n, s) for st, n, s in zip(start, out_shape, window_strides)]
        w = structural.slice(xp, start, limit, window_strides)
        parts.append(structural.reshape(w, (1,) + tuple(out_shape)))
    return parts[0] if len(parts) == 1 else structural.concatenate(parts, 0)


def _minmax_jvp(kind):
    def rule(primals, tangents, **params):
        x, = primals
        t, = tangents
        p = reduce_window_max_p if kind == 'max' else reduce_window_min_p
        out = p.bind(x, **params)
        if t is None:
            return out, None
        shape = common.aval_of(out).shape
        dt = common.aval_of(x).dtype
        # The tangent of the first winning element of each window (ties go to the first,
        # as XLA's select does for max pooling gradients).
        xs = _windows(x, _identity(kind, dt), out_shape=shape, **params)
        ts = _windows(t, 0, out_shape=shape, **params)
        pick = reduction.argmax(xs, 0, np.int32) if kind == 'max' else \
            reduction.argmin(xs, 0, np.int32)
        ew = structural.elementwise()
        n = common.aval_of(xs).shape[0]
        hit = ew.eq(structural.broadcasted_iota(np.int32, (n,) + tuple(shape), 0),
                    structural.broadcast_in_dim(pick, (n,) + tuple(shape),
                                                tuple(range(1, len(shape) + 1))))
        chosen = ew.select_n(hit, common.zeros_like(ts), ts)
        return out, reduction.reduce_sum(chosen, (0,))
    return rule


reduce_window_sum_p = common.define('reduce_window_sum', _abstract('reduce_window_sum'),
                                    _impl('sum'), _sum_jvp, _sum_transpose)
reduce_window_sum_p.batch = _params_batch(reduce_window_sum_p)
reduce_window_max_p = common.define('reduce_window_max', _abstract('reduce_window_max'),
                                    _impl('max'), _minmax_jvp('max'))
reduce_window_max_p.batch = _params_batch(reduce_window_max_p)
reduce_window_min_p = common.define('reduce_window_min', _abstract('reduce_window_min'),
                                    _impl('min'), _minmax_jvp('min'))
reduce_window_min_p.batch = _params_batch(reduce_window_min_p)
_PRIMS = {'sum': reduce_window_sum_p, 'max': reduce_window_max_p, 'min': reduce_window_min_p}
