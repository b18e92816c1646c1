"""Descriptive statistics of jax.scipy.stats: mode, rankdata, sem. Ties are found in
sorted order: equal values form runs, and a run's first and last positions come from a
running max/min of its boundaries (lax.cummax / cummin), so no (n, n) comparison is
formed."""
import collections
import operator

import numpy as np

from tinyjax import dtypes, lax
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact

ModeResult = collections.namedtuple('ModeResult', ['mode', 'count'])
_NAN_POLICIES = ('propagate', 'omit', 'raise')


def _check_policy(op, nan_policy):
    if nan_policy not in _NAN_POLICIES:
        raise ValueError(f'{op}: illegal nan_policy value {nan_policy!r}; expected one of '
                         f'{_NAN_POLICIES}')
    if nan_policy != 'propagate':
        raise ValueError(f"{op}: nan_policy={nan_policy!r} is not supported (JAX has only "
                         "'propagate' under jit); drop the NaNs first or check for them "
                         'outside the function')


def _runs(s):
    """For s sorted along axis 0: each position's run start and end (inclusive)."""
    n = s.shape[0]
    idx = lax.broadcasted_iota(np.int32, s.shape, 0)
    differs = s[1:] != s[:-1]
    edge = jnp.ones((1,) + s.shape[1:], bool)
    starts = jnp.concatenate([edge, differs], axis=0)
    ends = jnp.concatenate([differs, edge], axis=0)
    first = lax.cummax(jnp.where(starts, idx, 0), axis=0)
    last = lax.cummin(jnp.where(ends, idx, n - 1), axis=0, reverse=True)
    return first, last


def mode(a, axis=0, nan_policy='propagate', keepdims=False):
    """The most frequent value along axis (the smallest of equally frequent ones) and
    its count."""
    _check_policy('mode', nan_policy)
    x = jnp.atleast_1d(jnp.asarray(a))
    if axis is None:
        x, axis = x.ravel(), 0
        out_shape = (1,) * np.ndim(a) if keepdims else ()
    else:
        axis = operator.index(axis) % x.ndim
        out_shape = tuple(1 if i == axis else n for i, n in enumerate(x.shape)) if keepdims \
            else tuple(n for i, n in enumerate(x.shape) if i != axis)
    if x.shape[axis] == 0:
        fdt = dtypes.default_float()
        return ModeResult(jnp.full(out_shape, np.nan, fdt), jnp.zeros(out_shape, fdt))
    s = jnp.sort(jnp.moveaxis(x, axis, 0).reshape(x.shape[axis], -1), axis=0)
    first, last = _runs(s)
    best = jnp.argmax(last - first + 1, axis=0)
    cols = jnp.arange(s.shape[1])
    return ModeResult(s[best, cols].reshape(out_shape),
                      (last - first + 1)[best, cols].reshape(out_shape))


_RANK_METHODS = ('average', 'min', 'max', 'dense', 'ordinal')


def rankdata(a, method='average', *, axis=None, nan_policy='propagate'):
    """Ranks from 1, ties resolved by `method`, as floats; all NaN if a NaN is present."""
    _check_policy('rankdata', nan_policy)
    if method not in _RANK_METHODS:
        raise ValueError(f"rankdata: unknown method '{method}'; use one of {_RANK_METHODS}")
    if axis is not None:
        return jnp.apply_along_axis(lambda v: rankdata(v, method), axis, a)
    x = jnp.ravel(jnp.asarray(a))
    fdt = dtypes.default_float()
    if x.size == 0:
        return jnp.zeros((0,), fdt)
    s, order = lax.sort_key_val(x, lax.iota(np.int32, x.size))
    pos = jnp.zeros(x.size, np.int32).at[order].set(jnp.arange(x.size, dtype=np.int32))
    first, last = _runs(s[:, None])
    first, last = first[:, 0][pos], last[:, 0][pos]
    if method == 'ordinal':
        r = pos + 1
    elif method == 'min':
        r = first + 1
    elif method == 'max':
        r = last + 1
    elif method == 'average':
        r = 0.5 * (first + last + 2).astype(fdt)
    else:   # dense: how many distinct values are at or below
        starts = jnp.concatenate([jnp.ones(1, bool), s[1:] != s[:-1]])
        r = jnp.cumsum(starts)[pos]
    r = r.astype(fdt)
    return jnp.where(jnp.any(jnp.isnan(x)), jnp.full_like(r, np.nan), r)


def sem(a, axis=0, ddof=1, nan_policy='propagate', *, keepdims=False):
    """Standard error of the mean: std(ddof) / sqrt(n)."""
    (b,) = promote_inexact(a)
    if nan_policy == 'propagate':
        n = b.size if axis is None else b.shape[axis]
        return b.std(axis, ddof=ddof, keepdims=keepdims) / jnp.sqrt(n).astype(b.dtype)
    if nan_policy == 'omit':
        count = (~jnp.isnan(b)).sum(axis, keepdims=keepdims)
        return jnp.nanstd(b, axis, ddof=ddof, keepdims=keepdims) / jnp.sqrt(count).astype(b.dtype)
    raise ValueError(f"sem: nan_policy={nan_policy!r} is not supported; use 'propagate' or "
                     "'omit'")
