"""Index tricks and index arithmetic: ix_, s_, index_exp, mgrid, ogrid, r_, c_, meshgrid,
indices, fromfunction, triu/tril/diag_indices, unravel_index, ravel_multi_index."""
import numpy as np

from tinyjax import dtypes, lax
from tinyjax.numpy import creation, manipulation, ufuncs
from tinyjax.numpy.conversion import asarray, array, promote

__all__ = ['ix_', 'fromfunction', 'index_exp', 's_', 'meshgrid', 'indices',
           'triu_indices', 'tril_indices', 'diag_indices', 'unravel_index',
           'ravel_multi_index', 'mgrid', 'ogrid', 'r_', 'c_']


def ix_(*args):
    """Open-mesh index arrays: the i-th argument reshaped to lie along axis i."""
    out = []
    for i, a in enumerate(args):
        a = asarray(a)
        if a.ndim != 1:
            raise ValueError(f'Arguments to jax.numpy.ix_ must be 1-dimensional, got shape {a.shape}')
        if a.dtype == np.bool_:
            raise NotImplementedError('Boolean arguments to jax.numpy.ix_ are not implemented')
        shape = [1] * len(args)
        shape[i] = a.shape[0]
        out.append(a.reshape(shape))
    return tuple(out)


def fromfunction(function, shape, *, dtype=float, **kwargs):
    return function(*indices(shape, dtype=dtype), **kwargs)


class _IndexExpression:
    def __init__(self, as_tuple):
        self.as_tuple = as_tuple

    def __getitem__(self, item):
        return (item if isinstance(item, tuple) else (item,)) if self.as_tuple else item


index_exp = _IndexExpression(True)
s_ = _IndexExpression(False)


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
        return manipulation.stack(meshgrid(*out, indexing='ij', sparse=False), 0)


class _Ogrid:
    def __getitem__(self, key):
        if isinstance(key, slice):
            return _grid_1d(key)
        out = promote(*[_grid_1d(k) for k in key])
        return meshgrid(*out, indexing='ij', sparse=True)


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
