"""Statistics: NaN-ignoring reductions, quantiles (nan and not, one implementation),
percentiles, medians, cov, corrcoef, bincount, digitize and histograms."""
import builtins

import numpy as np

from tinyjax import dtypes, lax
from tinyjax.numpy import creation, manipulation, reductions, sorting, ufuncs, indexing
from tinyjax.numpy.conversion import asarray, broadcast_to, canonicalize_axis, promote_inexact
from tinyjax.numpy.products import dot
from tinyjax.numpy.spacing import linspace
from tinyjax.numpy.sorting import searchsorted

__all__ = ['nansum', 'nanmean', 'nanmax', 'nanmin', 'nanprod', 'nanvar', 'nanstd',
           'nanargmax', 'nanargmin', 'median', 'quantile', 'percentile', 'cov',
           'corrcoef', 'bincount', 'histogram', 'histogram_bin_edges', 'nanquantile',
           'nanpercentile', 'nanmedian', 'digitize']


def _nan_to(x, value):
    x = asarray(x)
    if not dtypes.is_inexact(x.dtype):
        return x
    return lax.select(ufuncs.isnan(x), broadcast_to(asarray(np.asarray(value, x.dtype)), x.shape), x)


def nansum(a, axis=None, dtype=None, keepdims=False):
    return reductions.sum(_nan_to(a, 0), axis=axis, dtype=dtype, keepdims=keepdims)


def nanprod(a, axis=None, dtype=None, keepdims=False):
    return reductions.prod(_nan_to(a, 1), axis=axis, dtype=dtype, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, keepdims=False):
    a = asarray(a)
    return reductions.mean(a, axis=axis, dtype=dtype, keepdims=keepdims,
                           where=ufuncs.logical_not(ufuncs.isnan(a)))


def nanvar(a, axis=None, dtype=None, ddof=0, keepdims=False):
    a = asarray(a)
    return reductions.var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims,
                          where=ufuncs.logical_not(ufuncs.isnan(a)))


def nanstd(a, axis=None, dtype=None, ddof=0, keepdims=False):
    return ufuncs.sqrt(nanvar(a, axis, dtype, ddof, keepdims))


def _nan_extreme(red, fill):
    def f(a, axis=None, keepdims=False):
        a = asarray(a)
        out = red(_nan_to(a, fill), axis=axis, keepdims=keepdims)
        all_nan = reductions.all(ufuncs.isnan(a), axis=axis, keepdims=keepdims)
        return lax.select(all_nan, broadcast_to(asarray(np.asarray(np.nan, out.dtype)), out.shape), out) \
            if dtypes.is_inexact(a.dtype) else out
    return f


nanmax = _nan_extreme(reductions.max, -np.inf)
nanmin = _nan_extreme(reductions.min, np.inf)


def nanargmax(a, axis=None, keepdims=False):
    return reductions.argmax(_nan_to(a, -np.inf), axis=axis, keepdims=keepdims)


def nanargmin(a, axis=None, keepdims=False):
    return reductions.argmin(_nan_to(a, np.inf), axis=axis, keepdims=keepdims)


def quantile(a, q, axis=None, method='linear', keepdims=False):
    if method not in ('linear', 'lower', 'higher', 'nearest', 'midpoint'):
        raise ValueError(f"quantile: method must be 'linear', 'lower', 'higher', 'nearest' or "
                         f"'midpoint', got {method!r}")
    return sorted_quantile(a, q, axis, method, keepdims, 'quantile', skip_nan=False)


def sorted_quantile(a, q, axis, method, keepdims, op, skip_nan):
    """The q-th quantiles of `a` over `axis` (an int, a tuple or None), from a sort; with
    skip_nan the NaNs (sorted last) are left out, else a slice holding one gives NaN."""
    a, q = asarray(a), asarray(q)
    (a,) = promote_inexact(a)
    if dtypes.is_complex(a.dtype):
        raise ValueError('quantile does not support complex input, as the operation is poorly '
                         'defined.')
    if q.ndim > 1:
        raise ValueError(f'q must be have rank <= 1, got shape {q.shape}')
    nd = a.ndim
    if axis is None:
        axes = tuple(range(nd))
    else:
        axes = tuple(canonicalize_axis(ax, nd, op)
                     for ax in (axis if isinstance(axis, tuple) else (axis,)))
        if len(set(axes)) != len(axes):
            raise ValueError('repeated axis')
    keep = [d for d in range(nd) if d not in axes]
    kshape = tuple(a.shape[d] for d in keep)
    s = manipulation.transpose(a, keep + list(axes)).reshape(kshape + (-1,))
    s = sorting.sort(s, axis=-1)              # NaNs sort last
    nan = ufuncs.isnan(s)
    if skip_nan:
        counts = reductions.sum(~nan, axis=-1, dtype=q.dtype)
    else:
        counts = creation.full(kshape, s.shape[-1], q.dtype)
    qq = q.reshape(q.shape + (1,) * len(kshape))
    pos = qq * (counts - 1)
    low, high = ufuncs.floor(pos), ufuncs.ceil(pos)
    hw = pos - low
    low = ufuncs.maximum(0, ufuncs.minimum(low, counts - 1)).astype(dtypes.default_int())
    high = ufuncs.maximum(0, ufuncs.minimum(high, counts - 1)).astype(dtypes.default_int())
    sb = creation.broadcast_to(s, q.shape + s.shape)
    lv = indexing.take_along_axis(sb, low[..., None], axis=-1)[..., 0]
    hv = indexing.take_along_axis(sb, high[..., None], axis=-1)[..., 0]
    if method == 'linear':
        res = lv.astype(q.dtype) * (1 - hw) + hv.astype(q.dtype) * hw
    elif method == 'lower':
        res = lv
    elif method == 'higher':
        res = hv
    elif method == 'nearest':
        res = ufuncs.where(hw <= 0.5, lv, hv)
    else:
        res = (lv + hv) * 0.5
    if not skip_nan:
        res = ufuncs.where(reductions.any(nan, axis=-1), np.nan, res)
    if keepdims:
        res = res.reshape(q.shape + tuple(1 if d in axes else a.shape[d] for d in range(nd)))
    return res


def percentile(a, q, axis=None, method='linear', keepdims=False):
    return quantile(a, ufuncs.divide(q, 100.0), axis, method, keepdims)


def median(a, axis=None, keepdims=False):
    return quantile(a, 0.5, axis, keepdims=keepdims)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None):
    x = manipulation.atleast_2d(asarray(m))
    if not rowvar and x.shape[0] != 1:
        x = x.T
    if y is not None:
        yy = manipulation.atleast_2d(asarray(y))
        if not rowvar and yy.shape[0] != 1:
            yy = yy.T
        x = manipulation.concatenate([x, yy], 0)
    if not dtypes.is_inexact(x.dtype):
        x = x.astype(dtypes.default_float())
    ddof = (0 if bias else 1) if ddof is None else ddof
    n = x.shape[1]
    if fweights is None and aweights is None:
        xc = ufuncs.subtract(x, reductions.mean(x, axis=1, keepdims=True))
        return manipulation.squeeze(ufuncs.divide(dot(xc, xc.T), n - ddof))
    # NumPy's weighted form: w = fweights * aweights, the mean weighted by w, and the
    # normaliser v1 - ddof * sum(w * aweights) / v1 (v1 - ddof without aweights).
    w = None
    for name, v in (('fweights', fweights), ('aweights', aweights)):
        if v is not None:
            v = asarray(v).astype(x.dtype)
            if v.shape != (n,):
                raise ValueError(f'cov: {name} must be one-dimensional of length {n} (the '
                                 f'number of observations), got shape {v.shape}')
            w = v if w is None else ufuncs.multiply(w, v)
    v1 = reductions.sum(w)
    xc = ufuncs.subtract(x, ufuncs.divide(dot(x, w), v1)[:, None])
    if ddof == 0:
        fact = v1
    elif aweights is None:
        fact = ufuncs.subtract(v1, ddof)
    else:
        aw = asarray(aweights).astype(x.dtype)
        fact = ufuncs.subtract(v1, ufuncs.divide(ufuncs.multiply(ddof, reductions.sum(
            ufuncs.multiply(w, aw))), v1))
    return manipulation.squeeze(ufuncs.divide(dot(ufuncs.multiply(xc, w), xc.T), fact))


def corrcoef(x, y=None, rowvar=True):
    c = cov(x, y, rowvar)
    if c.ndim == 0:
        return ufuncs.divide(c, c)
    d = manipulation.diagonal(c)
    sd = ufuncs.sqrt(d)
    return ufuncs.divide(ufuncs.divide(c, sd[:, None]), sd[None, :])


def bincount(x, weights=None, minlength=0, *, length=None):
    x = asarray(x)
    if length is None:
        try:
            length = builtins.max(int(np.asarray(x).max(initial=-1)) + 1, minlength)
        except TypeError:
            raise TypeError('bincount: pass length= under jit (the output size must be static)') from None
    w = asarray(1, dtypes.default_int()) if weights is None else asarray(weights)
    zeros = broadcast_to(asarray(np.asarray(0, w.dtype)), (length,))
    w = broadcast_to(w, x.shape)
    return zeros.at[x].add(w, mode='drop')


def histogram_bin_edges(a, bins=10, range=None, weights=None):
    a = asarray(a)
    dt = a.dtype if dtypes.is_inexact(a.dtype) else dtypes.default_float()
    if np.ndim(bins) == 1:
        return asarray(bins, dt)
    if range is None:
        lo, hi = reductions.min(a).astype(dt), reductions.max(a).astype(dt)
    else:
        lo, hi = asarray(range[0], dt), asarray(range[1], dt)
    # A degenerate range widens by 0.5 each way, as NumPy does.
    same = ufuncs.equal(lo, hi)
    lo = ufuncs.where(same, ufuncs.subtract(lo, 0.5), lo)
    hi = ufuncs.where(same, ufuncs.add(hi, 0.5), hi)
    return linspace(lo, hi, int(bins) + 1).astype(dt)


def histogram(a, bins=10, range=None, weights=None, density=None):
    """Counts per bin (float, as JAX), the last bin closed on the right."""
    a = manipulation.ravel(asarray(a))
    edges = histogram_bin_edges(a, bins, range)
    n = edges.shape[0] - 1
    idx = ufuncs.subtract(searchsorted(edges, a, side='right'), 1)
    idx = ufuncs.where(ufuncs.equal(a, edges[-1]), n - 1, idx)
    inside = ufuncs.logical_and(ufuncs.greater_equal(a, edges[0]), ufuncs.less_equal(a, edges[-1]))
    w = asarray(1.0, edges.dtype) if weights is None else manipulation.ravel(asarray(weights)).astype(edges.dtype)
    w = ufuncs.where(inside, broadcast_to(w, a.shape), 0)
    counts = broadcast_to(asarray(np.asarray(0, edges.dtype)), (n,)).at[ufuncs.clip(idx, 0, n - 1)].add(w)
    if density:
        widths = ufuncs.subtract(edges[1:], edges[:-1])
        counts = ufuncs.divide(counts, ufuncs.multiply(reductions.sum(counts), widths))
    return counts, edges


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method='linear',
                keepdims=False, *, weights=None):
    """quantile ignoring NaNs (NaN where a slice is all NaN)."""
    if overwrite_input or out is not None:
        raise ValueError('jax.numpy.nanquantile does not support overwrite_input=True or '
                         'out != None')
    if weights is not None:
        raise NotImplementedError('jnp.nanquantile: weights are not supported')
    if method not in ('linear', 'lower', 'higher', 'midpoint', 'nearest', 'inverted_cdf'):
        raise ValueError("method can only be 'linear', 'lower', 'higher', 'midpoint', "
                         "'nearest' or 'inverted_cdf'")
    if method == 'inverted_cdf':
        raise NotImplementedError("jnp.nanquantile: method='inverted_cdf' is not supported")
    return sorted_quantile(a, q, axis, method, keepdims, 'nanquantile', skip_nan=True)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method='linear',
                  keepdims=False, *, weights=None):
    (q,) = promote_inexact(asarray(q))
    return nanquantile(a, q / 100, axis=axis, out=out, overwrite_input=overwrite_input,
                       method=method, keepdims=keepdims, weights=weights)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return nanquantile(a, 0.5, axis=axis, out=out, overwrite_input=overwrite_input,
                       keepdims=keepdims, method='midpoint')


def digitize(x, bins, right=False, *, method=None):
    x, bins = asarray(x), asarray(bins)
    if bins.ndim != 1:
        raise ValueError(f'digitize: bins must be a 1-dimensional array; got bins={bins}')
    if bins.shape[0] == 0:
        return creation.zeros_like(x, dtype=np.int32)
    side = 'left' if right else 'right'
    rising = sorting.searchsorted(bins, x, side=side)
    falling = bins.shape[0] - sorting.searchsorted(bins[::-1], x, side=side)
    return ufuncs.where(bins[-1] >= bins[0], rising, falling).astype(np.int32)
