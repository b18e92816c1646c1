"""Reductions of tinyjax.numpy: sum, prod, max, min, mean, var, std, all, any, argmax, ..."""
import builtins

import numpy as np

from tinyjax import dtypes, lax
from tinyjax.numpy.conversion import asarray, canonicalize_axes, canonicalize_axis, broadcast_to


def _keep(out, x_shape, axes, keepdims):
    if not keepdims:
        return out
    shape = tuple(1 if i in axes else s for i, s in enumerate(x_shape))
    return lax.reshape(out, shape)


def _where_fill(x, where, value):
    if where is None:
        return x
    w = broadcast_to(asarray(where, dtypes.bool_), x.shape)
    return lax.select(w, x, broadcast_to(asarray(np.asarray(value, x.dtype)), x.shape))


def _sum_dtype(x, dtype):
    if dtype is not None:
        return dtypes.canonicalize(np.dtype(dtype))
    if x.dtype == dtypes.bool_ or (dtypes.is_int(x.dtype) and x.dtype.itemsize < dtypes.default_int().itemsize):
        return dtypes.default_int() if not dtypes.is_unsigned(x.dtype) else dtypes.canonicalize(np.uint64)
    return x.dtype


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
        promote_integers=True):
    x = asarray(a)
    axes = canonicalize_axes(axis, x.ndim, 'sum')
    x = lax.convert_element_type(x, _sum_dtype(x, dtype)) if _sum_dtype(x, dtype) != x.dtype else x
    x = _where_fill(x, where, 0)
    out_ = lax.reduce_sum(x, axes)
    if initial is not None:
        out_ = lax.add(out_, asarray(np.asarray(initial, x.dtype)))
    return _keep(out_, x.shape, axes, keepdims)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
         promote_integers=True):
    x = asarray(a)
    axes = canonicalize_axes(axis, x.ndim, 'prod')
    dt = _sum_dtype(x, dtype)
    x = lax.convert_element_type(x, dt) if dt != x.dtype else x
    x = _where_fill(x, where, 1)
    out_ = lax.reduce_prod(x, axes)
    if initial is not None:
        out_ = lax.mul(out_, asarray(np.asarray(initial, x.dtype)))
    return _keep(out_, x.shape, axes, keepdims)


def _minmax(name, reduce, combine):
    def f(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        x = asarray(a)
        axes = canonicalize_axes(axis, x.ndim, name)
        if where is not None and initial is None:
            raise ValueError(f'reduction operation {name} does not have an identity, so to use '
                             'a where mask one has to specify "initial"')
        if initial is None and builtins.any(x.shape[i] == 0 for i in axes):
            raise ValueError(f'zero-size array to reduction operation {name} which has no '
                             'identity; pass initial=')
        if where is not None:
            x = _where_fill(x, where, initial)
        out_ = reduce(x, axes)
        if initial is not None:
            out_ = combine(out_, asarray(np.asarray(initial, x.dtype)))
        return _keep(out_, x.shape, axes, keepdims)
    f.__name__ = name
    return f


max = amax = _minmax('max', lax.reduce_max, lax.max)
min = amin = _minmax('min', lax.reduce_min, lax.min)


def all(a, axis=None, out=None, keepdims=False, *, where=None):
    x = asarray(a)
    x = x if x.dtype == dtypes.bool_ else lax.ne(x, asarray(np.asarray(0, x.dtype)))
    axes = canonicalize_axes(axis, x.ndim, 'all')
    x = _where_fill(x, where, True)
    return _keep(lax.reduce_and(x, axes), x.shape, axes, keepdims)


def any(a, axis=None, out=None, keepdims=False, *, where=None):
    x = asarray(a)
    x = x if x.dtype == dtypes.bool_ else lax.ne(x, asarray(np.asarray(0, x.dtype)))
    axes = canonicalize_axes(axis, x.ndim, 'any')
    x = _where_fill(x, where, False)
    return _keep(lax.reduce_or(x, axes), x.shape, axes, keepdims)


def _count(x, axes, where):
    if where is None:
        return int(np.prod([x.shape[i] for i in axes], dtype=np.int64))
    w = broadcast_to(asarray(where, dtypes.bool_), x.shape)
    return lax.reduce_sum(lax.convert_element_type(w, dtypes.default_int()), axes)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    x = asarray(a)
    axes = canonicalize_axes(axis, x.ndim, 'mean')
    dt = dtypes.canonicalize(np.dtype(dtype)) if dtype is not None else (
        x.dtype if dtypes.is_inexact(x.dtype) else dtypes.default_float())
    s = sum(x, axis=axes, dtype=dt, keepdims=keepdims, where=where)
    n = _count(x, axes, where)
    if isinstance(n, int):
        return lax.div(s, asarray(np.asarray(n, dt)))
    n = lax.convert_element_type(n, dt)
    return lax.div(s, _keep(n, x.shape, axes, keepdims))


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    x = asarray(a)
    if correction is not None:
        ddof = correction
    axes = canonicalize_axes(axis, x.ndim, 'var')
    dt = dtypes.canonicalize(np.dtype(dtype)) if dtype is not None else (
        x.dtype if dtypes.is_inexact(x.dtype) else dtypes.default_float())
    x = lax.convert_element_type(x, dt) if x.dtype != dt else x
    m = mean(x, axis=axes, keepdims=True, where=where)
    d = lax.sub(x, broadcast_to(m, x.shape))
    sq = lax.mul(d, d)
    s = sum(sq, axis=axes, keepdims=keepdims, where=where)
    n = _count(x, axes, where)
    if isinstance(n, int):
        return lax.div(s, asarray(np.asarray(n - ddof, dt)))
    n = lax.sub(lax.convert_element_type(n, dt), asarray(np.asarray(ddof, dt)))
    return lax.div(s, _keep(n, x.shape, axes, keepdims))


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    return lax.sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, correction=correction))


def _arg(name, prim):
    def f(a, axis=None, out=None, keepdims=False):
        x = asarray(a)
        if axis is None:
            flat = lax.reshape(x, (x.size,))
            res = prim(flat, 0)
            return lax.reshape(res, (1,) * x.ndim) if keepdims else res
        ax = canonicalize_axis(axis, x.ndim, name)
        if x.shape[ax] == 0:
            raise ValueError(f'attempt to get {name} of an empty sequence')
        return _keep(prim(x, ax), x.shape, (ax,), keepdims)
    f.__name__ = name
    return f


argmax = _arg('argmax', lax.argmax)
argmin = _arg('argmin', lax.argmin)


def ptp(a, axis=None, out=None, keepdims=False):
    return lax.sub(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))


def count_nonzero(a, axis=None, keepdims=False):
    x = asarray(a)
    nz = lax.ne(x, asarray(np.asarray(0, x.dtype)))
    return sum(nz, axis=axis, keepdims=keepdims)


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        n = asarray(a).size / avg.size if axis is not None or True else None
        return (avg, asarray(np.asarray(n, avg.dtype)) * 1) if returned else avg
    from tinyjax.numpy.ufuncs import multiply, divide
    a, w = asarray(a), asarray(weights)
    if w.shape != a.shape:
        ax = canonicalize_axis(axis, a.ndim, 'average')
        w = lax.broadcast_in_dim(w, a.shape, (ax,))
    num = sum(multiply(a, w), axis=axis, keepdims=keepdims)
    den = sum(w, axis=axis, keepdims=keepdims)
    out = divide(num, den)
    return (out, den) if returned else out
