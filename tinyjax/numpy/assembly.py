"""More jnp functions composed from the rest of tinyjax.numpy: insert/delete, block,
piecewise, NaN-ignoring quantiles, intersect1d, frexp, gradient, apply_along_axis and
the index tricks mgrid, ogrid, r_, c_."""
import operator

import numpy as np

from tinyjax import dtypes, lax
from tinyjax.ops.random_bits import bitcast_convert_type as _bitcast
from tinyjax.numpy.conversion import asarray, array, canonicalize_axis, promote, promote_inexact
from tinyjax.numpy import creation, statistics, manipulation, reductions, sorting, ufuncs

__all__ = ['insert', 'delete', 'block', 'piecewise', 'nanmedian', 'nanpercentile',
           'nanquantile', 'intersect1d', 'frexp', 'gradient', 'apply_along_axis', 'mgrid',
           'ogrid', 'c_', 'r_']


def _along(axis, idx):
    return (slice(None),) * axis + (idx,)


def insert(arr, obj, values, axis=None):
    """arr with values inserted before the given indices along axis (flattened if None)."""
    a = asarray(arr)
    values = asarray(values)
    if axis is None:
        a, axis = manipulation.ravel(a), 0
    axis = canonicalize_axis(axis, a.ndim, 'insert')
    if isinstance(obj, slice):
        indices = creation.arange(*obj.indices(a.shape[axis]))
    else:
        indices = asarray(obj)
    if indices.ndim > 1:
        raise ValueError('jnp.insert(): obj must be a slice, a one-dimensional array, or a '
                         f'scalar; got {obj}')
    if not dtypes.is_int(indices.dtype):
        if indices.size == 0 and not hasattr(obj, 'aval') and not hasattr(obj, 'weak_type'):
            indices = indices.astype(dtypes.default_int())
        else:
            raise ValueError(f'jnp.insert(): index array must be integer typed; got {obj}')
    values = array(values, ndmin=a.ndim, dtype=a.dtype, copy=False)
    if indices.size == 1:
        index = manipulation.ravel(indices)[0]
        if indices.ndim == 0:
            values = manipulation.moveaxis(values, 0, axis)
        indices = creation.full(values.shape[axis], index)
    n_input = a.shape[axis]
    n_insert = np.broadcast_shapes(indices.shape, (values.shape[axis],))[0]
    out_shape = list(a.shape)
    out_shape[axis] += n_insert
    indices = ufuncs.where(indices < 0, indices + n_input, indices)
    indices = ufuncs.clip(indices, 0, n_input)
    indices = creation.broadcast_to(indices, (n_insert,)) if indices.shape != (n_insert,) else indices
    values_ind = indices.at[sorting.argsort(indices)].add(
        creation.arange(n_insert, dtype=indices.dtype))
    # Element j of arr moves right by the number of insertions at or before it.
    j = creation.arange(n_input, dtype=indices.dtype)
    arr_ind = j + reductions.sum(indices[None, :] <= j[:, None], axis=1, dtype=indices.dtype)
    vshape = list(out_shape)
    vshape[axis] = n_insert
    values = creation.broadcast_to(values, tuple(vshape))
    out = creation.zeros_like(a, shape=tuple(out_shape))
    out = out.at[_along(axis, values_ind)].set(values)
    return out.at[_along(axis, arr_ind)].set(a)


def delete(arr, obj, axis=None, *, assume_unique_indices=False):
    """arr without the given entries along axis (flattened if None)."""
    a = asarray(arr)
    if axis is None:
        a, axis = manipulation.ravel(a), 0
    axis = canonicalize_axis(axis, a.ndim, 'delete')
    try:
        obj = operator.index(obj)
    except TypeError:
        pass
    else:
        n = a.shape[axis]
        if not -n <= obj < n:
            raise ValueError(f'axis {obj} is out of bounds for array of dimension {n}')
        obj = obj % n
        return manipulation.concatenate([a[_along(axis, slice(0, obj))],
                                         a[_along(axis, slice(obj + 1, None))]], axis=axis)
    if isinstance(obj, slice):
        obj = creation.arange(a.shape[axis])[obj]
        assume_unique_indices = True
    if isinstance(obj, (list, tuple)):
        obj = np.asarray(obj)
    obj_dtype = np.asarray(obj).dtype if not hasattr(obj, 'dtype') else np.dtype(obj.dtype)
    if np.issubdtype(obj_dtype, np.integer) and assume_unique_indices:
        o = manipulation.ravel(asarray(obj))
        o = ufuncs.clip(ufuncs.where(o < 0, o + a.shape[axis], o), 0, a.shape[axis])
        o = sorting.sort(o)
        o = o - creation.arange(o.shape[0], dtype=o.dtype)
        i = creation.arange(a.shape[axis] - o.shape[0], dtype=o.dtype)
        i = i + reductions.sum(i[None, :] >= o[:, None], axis=0, dtype=i.dtype)
        return a[_along(axis, i)]
    try:
        o = np.asarray(obj)
    except TypeError:
        from tinyjax import errors
        raise errors.ConcretizationTypeError(
            obj, "'obj' array argument of jnp.delete()") from None
    if np.issubdtype(o.dtype, np.integer):
        mask = np.ones(a.shape[axis], dtype=bool)
        mask[o] = False
    elif o.dtype == bool:
        if o.shape != (a.shape[axis],):
            raise ValueError('np.delete(arr, obj): for boolean indices, obj must be '
                             'one-dimensional with length matching specified axis.')
        mask = ~o
    else:
        raise ValueError(f'np.delete(arr, obj): got obj.dtype={o.dtype}; must be integer or bool.')
    return a[_along(axis, np.nonzero(mask)[0])]


def _block(xs):
    if isinstance(xs, tuple):
        raise ValueError(f'jax.numpy.block does not allow tuples, got {xs}')
    if isinstance(xs, list):
        if len(xs) == 0:
            raise ValueError('jax.numpy.block does not allow empty list arguments')
        parts = [_block(x) for x in xs]
        depths = [d for _, d in parts]
        if any(d != depths[0] for d in depths[1:]):
            raise ValueError('Mismatched list depths in jax.numpy.block')
        rank = max(depths[0], max(p.ndim for p, _ in parts))
        arrs = [p.reshape((1,) * (rank - p.ndim) + p.shape) for p, _ in parts]
        return manipulation.concatenate(arrs, axis=-depths[0]), depths[0] + 1
    return asarray(xs), 1


def block(arrays):
    """An array assembled from nested lists of blocks (the innermost joined on the last axis)."""
    return _block(arrays)[0]


def piecewise(x, condlist, funclist, *args, **kw):
    """funclist[i] (a function of x or a constant) where condlist[i]; later conditions win."""
    x = asarray(x)
    nc, nf = len(condlist), len(funclist)
    if nf == nc + 1:
        funclist = list(funclist[-1:]) + list(funclist[:-1])
    elif nf == nc:
        funclist = [0] + list(funclist)
    else:
        raise ValueError(f'with {nc} condition(s), either {nc} or {nc + 1} functions are '
                         f'expected; got {nf}')
    conds = asarray(condlist, dtype=np.bool_)
    out = None
    for i, f in enumerate(funclist):
        v = asarray(f(x, *args, **kw)).astype(x.dtype) if callable(f) else asarray(f, x.dtype)
        v = creation.broadcast_to(v, x.shape)
        out = v if out is None else ufuncs.where(conds[i - 1], v, out)
    return out


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
    return statistics.sorted_quantile(a, q, axis, method, keepdims, 'nanquantile', skip_nan=True)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method='linear',
                  keepdims=False, *, weights=None):
    (q,) = promote_inexact(asarray(q))
    return nanquantile(a, q / 100, axis=axis, out=out, overwrite_input=overwrite_input,
                       method=method, keepdims=keepdims, weights=weights)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return nanquantile(a, 0.5, axis=axis, out=out, overwrite_input=overwrite_input,
                       keepdims=keepdims, method='midpoint')


def intersect1d(ar1, ar2, assume_unique=False, return_indices=False, *, size=None,
                fill_value=None):
    """Sorted unique values in both arrays; size= pads to a fixed length (works under jit)."""
    a1, a2 = promote(asarray(ar1), asarray(ar2))
    a1, a2 = manipulation.ravel(a1), manipulation.ravel(a2)
    n1, n2 = a1.shape[0], a2.shape[0]
    order1 = sorting.argsort(a1, stable=True)
    s1 = a1[order1]
    first = manipulation.concatenate([asarray([True]), s1[1:] != s1[:-1]]) if n1 else \
        creation.zeros((0,), bool)
    hit = s1[:, None] == a2[None, :]
    keep = first & reductions.any(hit, axis=1) if n2 else first & False
    if size is None:
        try:
            k = np.asarray(keep)
        except TypeError:
            from tinyjax import errors
            raise errors.ConcretizationTypeError(keep, 'jnp.intersect1d without size=') from None
        pick = np.nonzero(k)[0]
        vals = s1[pick]
        if not return_indices:
            return vals
        i2 = reductions.argmax(hit[pick], axis=1) if len(pick) else creation.zeros((0,), int)
        return vals, order1[pick].astype(dtypes.default_int()), i2.astype(dtypes.default_int())
    num = reductions.sum(keep)
    pick = sorting.argsort(~keep, stable=True)
    if size > n1:
        pick = manipulation.concatenate([pick, creation.zeros(size - n1, pick.dtype)])
    pick = pick[:size]
    valid = creation.arange(size) < num
    vals = s1[pick] if n1 else creation.zeros(size, a1.dtype)
    if fill_value is None:
        fill = ufuncs.where(num > 0, reductions.min(ufuncs.where(valid, vals, vals.max()))
                            if size else 0, 0).astype(a1.dtype)
    else:
        fill = asarray(fill_value, a1.dtype)
    vals = ufuncs.where(valid, vals, fill)
    if not return_indices:
        return vals
    i1 = ufuncs.where(valid, order1[pick] if n1 else 0, n1).astype(dtypes.default_int())
    i2 = reductions.argmax(hit[pick], axis=1) if n1 and n2 else creation.zeros(size, int)
    i2 = ufuncs.where(valid, i2, n2).astype(dtypes.default_int())
    return vals, i1, i2


def frexp(x, /):
    """(mantissa, exponent) with x == mantissa * 2**exponent and 0.5 <= |mantissa| < 1."""
    (x,) = promote_inexact(asarray(x))
    if dtypes.is_complex(x.dtype):
        raise TypeError('frexp does not support complex-valued inputs')
    info = np.finfo(x.dtype)
    bits = {2: np.int16, 4: np.int32, 8: np.int64}[x.dtype.itemsize]
    tiny = ufuncs.abs(x) < info.smallest_normal
    xn = ufuncs.where(tiny, x * (2.0 ** info.nmant), x)
    ib = _bitcast(xn, bits)
    mask = (1 << info.nexp) - 1
    bias = 1 - info.minexp
    e = ((ib >> info.nmant) & mask) - bias + 1 - ufuncs.where(tiny, info.nmant, 0).astype(bits)
    mb = (ib & ~(mask << info.nmant)) | ((bias - 1) << info.nmant)
    m = _bitcast(mb, x.dtype)
    special = ufuncs.isinf(x) | ufuncs.isnan(x) | (x == 0)
    e = ufuncs.where(special, 0, e).astype(np.int32)
    # d mantissa / dx = 2**-exponent (the exponent is piecewise constant), as in JAX.
    scale = lax.stop_gradient(statistics.ldexp(creation.ones_like(x, dtype=np.float32), -e))
    tangent = ((x - lax.stop_gradient(x)).astype(np.float32) * scale).astype(x.dtype)
    return ufuncs.where(special, x, m + tangent), e


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


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """func1d mapped (with vmap) over every 1-D slice of arr along axis."""
    from tinyjax.transforms.batching import vmap
    arr = asarray(arr)
    nd = arr.ndim
    axis = canonicalize_axis(axis, nd, 'apply_along_axis')

    def func(x):
        return func1d(x, *args, **kwargs)
    for i in range(1, nd - axis):
        func = vmap(func, in_axes=i, out_axes=-1)
    for i in range(axis):
        func = vmap(func, in_axes=0, out_axes=0)
    return func(arr)


def _grid_1d(s):
    start = 0 if s.start is None else s.start
    step = 1 if s.step is None else s.step
    if np.iscomplex(step):
        return creation.linspace(start, s.stop, int(abs(step)))
    return creation.arange(start, s.stop, step)


class _Mgrid:
    def __getitem__(self, key):
        if isinstance(key, slice):
            return _grid_1d(key)
        out = promote(*[_grid_1d(k) for k in key])
        if len(out) == 0:
            return creation.arange(0)
        return manipulation.stack(statistics.meshgrid(*out, indexing='ij', sparse=False), 0)


class _Ogrid:
    def __getitem__(self, key):
        if isinstance(key, slice):
            return _grid_1d(key)
        out = promote(*[_grid_1d(k) for k in key])
        return statistics.meshgrid(*out, indexing='ij', sparse=True)


class _AxisConcat:
    def __init__(self, axis, ndmin, trans1d):
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        params = [self.axis, self.ndmin, self.trans1d, -1]
        directive = key[0]
        if isinstance(directive, str):
            key = key[1:]
            if directive == 'r':
                params[-1] = 0
            elif directive == 'c':
                params[-1] = 1
            else:
                vec = directive.split(',')
                k = len(vec)
                vec = vec + params[k:] if k < 4 else vec[:3] + [params[-1]]
                try:
                    params = list(map(int, vec))
                except ValueError as err:
                    raise ValueError(f'could not understand directive {directive!r}') from err
        axis, ndmin, trans1d, matrix = params
        output = []
        for item in key:
            if isinstance(item, slice):
                newobj, item_ndim = _grid_1d(item), 0
            elif isinstance(item, str):
                raise ValueError('string directive must be placed at the beginning')
            else:
                newobj = array(item, copy=False)
                item_ndim = newobj.ndim
            newobj = array(newobj, copy=False, ndmin=ndmin)
            if trans1d != -1 and ndmin - item_ndim > 0:
                shape_obj = tuple(range(ndmin))
                n = ndmin - abs(ndmin + trans1d + 1) % ndmin
                newobj = manipulation.transpose(newobj, shape_obj[n:] + shape_obj[:n])
            output.append(newobj)
        res = manipulation.concatenate(tuple(output), axis=axis)
        if matrix != -1 and res.ndim == 1:
            res = manipulation.expand_dims(res, matrix)
        return res

    def __len__(self):
        return 0


mgrid = _Mgrid()
ogrid = _Ogrid()
r_ = _AxisConcat(0, 1, -1)
c_ = _AxisConcat(-1, 2, 0)
