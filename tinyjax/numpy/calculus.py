"""Differences and gradients, interpolation, polynomials and 1-D convolution: diff,
ediff1d, gradient, interp, polyval, convolve, correlate."""

import builtins

import numpy as np

from tinyjax import dtypes, lax
from tinyjax.numpy import manipulation, ufuncs
from tinyjax.numpy.assembly import _along
from tinyjax.numpy.conversion import (
    asarray, broadcast_to, canonicalize_axis, promote, promote_inexact)
from tinyjax.ops.precision import canonicalize_precision

__all__ = ['diff', 'ediff1d', 'convolve', 'correlate', 'interp', 'polyval', 'gradient']


def diff(a, n=1, axis=-1, prepend=None, append=None):
    a = asarray(a)
    ax = canonicalize_axis(axis, a.ndim, 'diff')
    parts = []
    if prepend is not None:
        p = asarray(prepend)
        parts.append(p if p.ndim else broadcast_to(p, a.shape[:ax] + (1,) + a.shape[ax + 1:]))
    parts.append(a)
    if append is not None:
        q = asarray(append)
        parts.append(q if q.ndim else broadcast_to(q, a.shape[:ax] + (1,) + a.shape[ax + 1:]))
    if len(parts) > 1:
        a = manipulation.concatenate(parts, ax)
    for _ in range(n):
        m = a.shape[ax]
        hi = lax.slice_in_dim(a, 1, m, 1, ax)
        lo = lax.slice_in_dim(a, 0, builtins.max(m - 1, 0), 1, ax)
        a = ufuncs.not_equal(hi, lo) if a.dtype == dtypes.bool_ else ufuncs.subtract(hi, lo)
    return a


def ediff1d(ary, to_end=None, to_begin=None):
    d = diff(manipulation.ravel(ary))
    parts = ([manipulation.ravel(asarray(to_begin))] if to_begin is not None else []) + [d] + \
        ([manipulation.ravel(asarray(to_end))] if to_end is not None else [])
    return manipulation.concatenate(parts) if len(parts) > 1 else d


def _conv(a, v, mode, flip, precision):
    a, v = promote(manipulation.ravel(a), manipulation.ravel(v))
    if flip:
        v = manipulation.flip(v)
    n, m = a.shape[0], v.shape[0]
    if n == 0 or m == 0:
        raise ValueError('convolve: inputs cannot be empty')
    # The full correlation as a 1-D convolution (im2col + one matmul), then cropped.
    out = lax.conv_general_dilated(a[None, None, :], v[None, None, :], (1,),
                                   [(m - 1, m - 1)], precision=precision)[0, 0]
    if mode == 'full':
        return out
    if mode == 'same':
        start = (m - 1) // 2 if n >= m else (n - 1) // 2
        size = builtins.max(n, m)
        return lax.slice_in_dim(out, start, start + size)
    if mode == 'valid':
        lo, hi = builtins.min(n, m) - 1, builtins.max(n, m)
        return lax.slice_in_dim(out, lo, hi)
    raise ValueError(f"mode must be 'full', 'same' or 'valid', got {mode!r}")


def convolve(a, v, mode='full', *, precision=None, preferred_element_type=None):
    canonicalize_precision(precision, 'convolve')
    return _conv(a, v, mode, True, precision)


def correlate(a, v, mode='valid', *, precision=None, preferred_element_type=None):
    canonicalize_precision(precision, 'correlate')
    return _conv(a, v, mode, False, precision)


def interp(x, xp, fp, left=None, right=None, period=None):
    from tinyjax.numpy.indexing import take
    from tinyjax.numpy.sorting import searchsorted
    x, xp, fp = promote(x, xp, fp)
    if not dtypes.is_inexact(x.dtype):
        x, xp, fp = (v.astype(dtypes.default_float()) for v in (x, xp, fp))
    i = ufuncs.clip(searchsorted(xp, x, side='right'), 1, xp.shape[0] - 1)
    x0, x1 = take(xp, i - 1), take(xp, i)
    y0, y1 = take(fp, i - 1), take(fp, i)
    t = ufuncs.divide(ufuncs.subtract(x, x0), ufuncs.subtract(x1, x0))
    out = ufuncs.add(y0, ufuncs.multiply(t, ufuncs.subtract(y1, y0)))
    out = ufuncs.where(ufuncs.less(x, xp[0]), fp[0] if left is None else left, out)
    return ufuncs.where(ufuncs.greater(x, xp[-1]), fp[-1] if right is None else right, out)


def polyval(p, x):
    p, x = asarray(p), asarray(x)
    out = ufuncs.multiply(x, 0) if p.shape[0] == 0 else broadcast_to(p[0], x.shape)
    for i in range(1, p.shape[0]):
        out = ufuncs.add(ufuncs.multiply(out, x), p[i])
    return out


def gradient(f, *varargs, axis=None, edge_order=None):
    """Central differences inside, one-sided at the ends, along each requested axis."""
    if edge_order is not None:
        raise NotImplementedError("The 'edge_order' argument to jnp.gradient is not supported.")
    a, *spacing = promote_inexact(asarray(f), *[asarray(v) for v in varargs])

    def sl(x, ax, lo, hi):
        return x[_along(ax, slice(lo, hi))]

    def along(a, h, ax):
        upper = sl(a, ax, 1, 2) - sl(a, ax, 0, 1)
        lower = sl(a, ax, -1, None) - sl(a, ax, -2, -1)
        if np.ndim(h) == 0:
            inner = (sl(a, ax, 2, None) - sl(a, ax, None, -2)) * 0.5 / h
            upper, lower = upper / h, lower / h
        elif np.ndim(h) == 1:
            if len(h) != a.shape[ax]:
                raise ValueError('Spacing arrays must have the same length as the dimension '
                                 'along which the gradient is calculated.')
            hs = [1] * a.ndim
            hs[ax] = len(h)
            h = h.reshape(hs)
            upper = upper / (sl(h, ax, 1, 2) - sl(h, ax, 0, 1))
            lower = lower / (sl(h, ax, -1, None) - sl(h, ax, -2, -1))
            dx1 = sl(h, ax, 1, -1) - sl(h, ax, 0, -2)
            dx2 = sl(h, ax, 2, None) - sl(h, ax, 1, -1)
            inner = (-dx2 / (dx1 * (dx1 + dx2)) * sl(a, ax, 0, -2)
                     + (dx2 - dx1) / (dx1 * dx2) * sl(a, ax, 1, -1)
                     + dx1 / (dx2 * (dx1 + dx2)) * sl(a, ax, 2, None))
        else:
            raise ValueError('Spacing arrays must be 1D arrays or scalars.')
        return manipulation.concatenate((upper, inner, lower), axis=ax)

    if axis is None:
        axes = tuple(range(a.ndim))
    else:
        axes = tuple(canonicalize_axis(i, a.ndim, 'gradient')
                     for i in (axis if isinstance(axis, (tuple, list)) else (axis,)))
    if len(axes) == 0:
        return []
    if min(s for i, s in enumerate(a.shape) if i in axes) < 2:
        raise ValueError('Shape of array too small to calculate a numerical gradient, at least '
                         '2 elements are required.')
    if len(spacing) == 0:
        dx = [1.0] * len(axes)
    elif len(spacing) == 1:
        dx = list(spacing) * len(axes)
    elif len(spacing) == len(axes):
        dx = list(spacing)
    else:
        raise TypeError(f'Invalid number of spacing arguments {len(spacing)} for axis={axis!r}')
    out = [along(a, h, ax) for ax, h in zip(axes, dx)]
    return out[0] if len(axes) == 1 else out
