"""More of NumPy's API, built from the functions in the other modules."""
import builtins

import numpy as np

from tinyjax import dtypes, lax
from tinyjax.numpy import manipulation, reductions, ufuncs
from tinyjax.numpy.core import asarray, broadcast_all, broadcast_to, canonicalize_axis, promote
from tinyjax.ops.precision import canonicalize_precision

__all__ = ['isclose', 'allclose', 'array_equal', 'array_equiv', 'meshgrid', 'indices', 'diff',
           'ediff1d', 'append', 'nansum', 'nanmean', 'nanmax', 'nanmin', 'nanprod', 'nanvar',
           'nanstd', 'nanargmax', 'nanargmin', 'median', 'quantile', 'percentile', 'cov',
           'corrcoef', 'select', 'triu_indices', 'tril_indices', 'diag_indices',
           'unravel_index', 'ravel_multi_index', 'bincount', 'convolve', 'correlate', 'interp',
           'polyval', 'cross', 'gcd', 'lcm', 'ldexp', 'modf',
           'iscomplexobj', 'isrealobj', 'iscomplex', 'isreal', 'histogram', 'histogram_bin_edges']


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = promote(a, b)
    if not dtypes.is_inexact(a.dtype):
        return ufuncs.equal(a, b)
    a, b = broadcast_all(a, b, op='isclose')
    diff = ufuncs.absolute(ufuncs.subtract(a, b))
    close = ufuncs.less_equal(diff, ufuncs.add(atol, ufuncs.multiply(rtol, ufuncs.absolute(b))))
    # Infinities are close only to themselves.
    both_inf = ufuncs.logical_and(ufuncs.isinf(a), ufuncs.equal(a, b))
    close = ufuncs.logical_or(ufuncs.logical_and(close, ufuncs.isfinite(diff)), both_inf)
    if equal_nan:
        close = ufuncs.logical_or(close, ufuncs.logical_and(ufuncs.isnan(a), ufuncs.isnan(b)))
    return close


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return reductions.all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1, a2, equal_nan=False):
    a1, a2 = asarray(a1), asarray(a2)
    if a1.shape != a2.shape:
        return asarray(False)
    eq = ufuncs.equal(a1, a2)
    if equal_nan:
        eq = ufuncs.logical_or(eq, ufuncs.logical_and(ufuncs.isnan(a1), ufuncs.isnan(a2)))
    return reductions.all(eq)


def array_equiv(a1, a2):
    try:
        return reductions.all(ufuncs.equal(a1, a2))
    except TypeError:
        return asarray(False)


def meshgrid(*xi, copy=True, sparse=False, indexing='xy'):
    if indexing not in ('xy', 'ij'):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [manipulation.ravel(asarray(x)) for x in xi]
    n = len(xs)
    shape = [x.shape[0] for x in xs]
    if indexing == 'xy' and n > 1:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, x in enumerate(xs):
        ax = i
        if indexing == 'xy' and n > 1 and i < 2:
            ax = 1 - i
        if sparse:
            s = [1] * n
            s[ax] = x.shape[0]
            out.append(lax.reshape(x, s))
        else:
            out.append(lax.broadcast_in_dim(x, tuple(shape), (ax,)))
    return out


def indices(dimensions, dtype=None, sparse=False):
    dt = dtypes.canonicalize(np.dtype(dtype)) if dtype is not None else dtypes.default_int()
    dims = tuple(dimensions)
    out = []
    for i, d in enumerate(dims):
        if sparse:
            s = [1] * len(dims)
            s[i] = d
            out.append(lax.reshape(lax.iota(dt, d), s))
        else:
            out.append(lax.broadcasted_iota(dt, dims, i))
    return tuple(out) if sparse else manipulation.stack(out) if out else asarray(np.zeros((0,), dt))


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


def append(arr, values, axis=None):
    if axis is None:
        return manipulation.concatenate([manipulation.ravel(arr), manipulation.ravel(values)])
    return manipulation.concatenate([arr, values], axis)


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
    from tinyjax.numpy import creation, indexing, sorting
    from tinyjax.numpy.core import promote_inexact
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


def cov(m, y=None, rowvar=True, bias=False, ddof=None):
    from tinyjax.numpy.products import dot
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
    xc = ufuncs.subtract(x, reductions.mean(x, axis=1, keepdims=True))
    c = ufuncs.divide(dot(xc, xc.T), n - ddof)
    return manipulation.squeeze(c)


def corrcoef(x, y=None, rowvar=True):
    c = cov(x, y, rowvar)
    if c.ndim == 0:
        return ufuncs.divide(c, c)
    d = manipulation.diagonal(c)
    sd = ufuncs.sqrt(d)
    return ufuncs.divide(ufuncs.divide(c, sd[:, None]), sd[None, :])


def select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError('select: condlist and choicelist must have the same length')
    out = asarray(default)
    for c, v in reversed(list(zip(condlist, choicelist))):
        out = ufuncs.where(c, v, out)
    return out


def triu_indices(n, k=0, m=None):
    r, c = np.triu_indices(n, k, m)
    return asarray(r.astype(np.int32)), asarray(c.astype(np.int32))


def tril_indices(n, k=0, m=None):
    r, c = np.tril_indices(n, k, m)
    return asarray(r.astype(np.int32)), asarray(c.astype(np.int32))


def diag_indices(n, ndim=2):
    i = lax.iota(dtypes.int32, n)
    return (i,) * ndim


def unravel_index(indices, shape):
    idx = asarray(indices)
    out = []
    for s in reversed(shape):
        out.append(ufuncs.remainder(idx, s))
        idx = ufuncs.floor_divide(idx, s)
    return tuple(reversed(out))


def ravel_multi_index(multi_index, dims, mode='raise', order='C'):
    out = asarray(0)
    for i, d in zip(multi_index, dims):
        i = asarray(i)
        if mode == 'clip':
            i = ufuncs.clip(i, 0, d - 1)
        elif mode == 'wrap':
            i = ufuncs.remainder(i, d)
        out = ufuncs.add(ufuncs.multiply(out, d), i)
    return out


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


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a = manipulation.moveaxis(asarray(a), axisa, -1)
    b = manipulation.moveaxis(asarray(b), axisb, -1)
    a0, a1, a2 = a[..., 0], a[..., 1], (a[..., 2] if a.shape[-1] == 3 else ufuncs.multiply(a[..., 0], 0))
    b0, b1, b2 = b[..., 0], b[..., 1], (b[..., 2] if b.shape[-1] == 3 else ufuncs.multiply(b[..., 0], 0))
    c = [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0]
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return c[2]
    return manipulation.moveaxis(manipulation.stack(c, -1), -1, axisc)


def gcd(x1, x2):
    a, b = broadcast_all(*promote(x1, x2), op='gcd', keep_scalars=False)
    a, b = ufuncs.absolute(a), ufuncs.absolute(b)
    bits = a.dtype.itemsize * 8 * 2
    for _ in range(bits):               # Euclid, a fixed number of steps so it traces
        nz = ufuncs.not_equal(b, 0)
        safe_b = ufuncs.where(nz, b, 1)
        a, b = ufuncs.where(nz, b, a), ufuncs.where(nz, ufuncs.remainder(a, safe_b), 0)
    return a


def lcm(x1, x2):
    a, b = promote(x1, x2)
    g = gcd(a, b)
    safe = ufuncs.where(ufuncs.equal(g, 0), 1, g)
    return ufuncs.absolute(ufuncs.multiply(ufuncs.floor_divide(a, safe), b))


def ldexp(x1, x2):
    x1 = asarray(x1)
    dt = x1.dtype if dtypes.is_inexact(x1.dtype) else dtypes.default_float()
    return ufuncs.multiply(x1.astype(dt), ufuncs.exp2(asarray(x2).astype(dt)))


def modf(x):
    x = asarray(x)
    whole = ufuncs.trunc(x)
    return ufuncs.subtract(x, whole), whole


def iscomplexobj(x):
    return dtypes.is_complex(asarray(x).dtype)


def isrealobj(x):
    return not iscomplexobj(x)


def iscomplex(x):
    return ufuncs.not_equal(ufuncs.imag(x), 0)


def isreal(x):
    return ufuncs.equal(ufuncs.imag(x), 0)


def histogram_bin_edges(a, bins=10, range=None, weights=None):
    a = asarray(a)
    dt = a.dtype if dtypes.is_inexact(a.dtype) else dtypes.default_float()
    if np.ndim(bins) == 1:
        return asarray(bins, dt)
    from tinyjax.numpy.creation import linspace
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
    from tinyjax.numpy.sorting import searchsorted
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
