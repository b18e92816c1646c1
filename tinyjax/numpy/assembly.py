"""Arrays assembled from pieces or chosen among: insert, delete, append, block, select,
choose, compress, piecewise, apply_along_axis, fill_diagonal, diagflat."""
import operator

import numpy as np

from tinyjax import dtypes
from tinyjax.numpy import creation, indexing, manipulation, reductions, sorting, ufuncs
from tinyjax.numpy.conversion import asarray, array, canonicalize_axis

__all__ = ['insert', 'delete', 'block', 'piecewise', 'apply_along_axis', 'append',
           'select', 'compress', 'choose', 'fill_diagonal', 'diagflat']


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


def append(arr, values, axis=None):
    if axis is None:
        return manipulation.concatenate([manipulation.ravel(arr), manipulation.ravel(values)])
    return manipulation.concatenate([arr, values], axis)


def select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError('select: condlist and choicelist must have the same length')
    out = asarray(default)
    for c, v in reversed(list(zip(condlist, choicelist))):
        out = ufuncs.where(c, v, out)
    return out


def diagflat(v, k=0):
    return manipulation.diag(manipulation.ravel(asarray(v)), k)


def fill_diagonal(a, val, wrap=False, *, inplace=True):
    """a with its main diagonal set to val (repeated cyclically); needs inplace=False."""
    if inplace:
        raise NotImplementedError('JAX arrays are immutable, must use inplace=False')
    if wrap:
        raise NotImplementedError('wrap=True is not implemented, must use wrap=False')
    a = asarray(a)
    if a.ndim < 2:
        raise ValueError('array must be at least 2-d')
    if a.ndim > 2 and len(set(a.shape)) != 1:
        raise ValueError('All dimensions of input must be of equal length')
    # Flat positions of the diagonal (for a tall matrix, only its top square's).
    step = a.shape[1] + 1 if a.ndim == 2 else 1 + int(np.cumprod(a.shape[:-1]).sum())
    end = a.shape[1] * a.shape[1] if a.ndim == 2 else a.size
    idx = np.arange(0, min(end, a.size), step)
    val = manipulation.ravel(asarray(val, a.dtype))
    vals = indexing.take(val, np.arange(len(idx)) % max(val.shape[0], 1))
    return manipulation.ravel(a).at[idx].set(vals).reshape(a.shape)


def compress(condition, a, axis=None, *, size=None, fill_value=0, out=None):
    """The slices of a along axis where condition is true; size pads to a fixed length."""
    if out is not None:
        raise NotImplementedError('The out argument to jnp.compress is not supported.')
    cond, a = asarray(condition), asarray(a)
    if cond.ndim != 1:
        raise ValueError('condition must be a 1D array')
    if axis is None:
        a, axis = manipulation.ravel(a), 0
    a = manipulation.moveaxis(a, axis, 0)
    if cond.shape[0] > a.shape[0]:
        raise ValueError(f'condition contains entries that are out of bounds for axis {axis}')
    a = a[:cond.shape[0]]
    (idx,) = manipulation.nonzero(cond, size=size, fill_value=-1) if size is not None \
        else manipulation.nonzero(cond)
    picked = a[idx]
    if size is not None:
        keep = (idx >= 0).reshape((-1,) + (1,) * (a.ndim - 1))
        picked = ufuncs.where(keep, picked, asarray(fill_value, a.dtype))
    return manipulation.moveaxis(picked, 0, axis)


def choose(a, choices, out=None, mode='raise'):
    """choices[a[i]][i] for every i, choices broadcast together with a."""
    if out is not None:
        raise NotImplementedError('The out argument to jnp.choose is not supported.')
    a = asarray(a)
    if not dtypes.is_int(a.dtype):
        raise TypeError(f'choose: index array must be integer typed, got {a.dtype}')
    n = len(choices)
    if mode == 'raise':
        # Needs concrete indices: under jit this raises JAX's ConcretizationTypeError.
        if bool(((a < 0) | (a >= n)).any()):
            raise ValueError('invalid entry in choice array')
    elif mode == 'wrap':
        a = a % n
    elif mode == 'clip':
        a = ufuncs.clip(a, 0, n - 1)
    else:
        raise ValueError(f"mode={mode!r} not understood. Must be 'raise', 'wrap', or 'clip'")
    stacked = manipulation.broadcast_arrays(a, *choices)
    picks = manipulation.stack(stacked[1:])
    # A stacked list of choices is a fresh array: never weakly typed, as in JAX.
    return indexing.take_along_axis(picks, stacked[0][None], axis=0)[0].astype(picks.dtype)
