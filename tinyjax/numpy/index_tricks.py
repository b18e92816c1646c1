"""Assorted jnp functions composed from the rest of tinyjax.numpy: set membership,
binning, index helpers, diagonal filling, vector-matrix products, bit counts."""
import numpy as np

from tinyjax import dtypes, lax
from tinyjax.numpy.conversion import asarray, array
from tinyjax.numpy import creation, statistics, indexing, manipulation, products, sorting, ufuncs
from tinyjax.numpy.reductions import any as _any

__all__ = ['bitwise_count', 'bitwise_invert', 'bitwise_left_shift', 'bitwise_right_shift',
           'astype', 'copy', 'isin', 'ix_', 'digitize', 'geomspace', 'diagflat',
           'fill_diagonal', 'matvec', 'vecmat', 'fromfunction', 'index_exp', 's_', 'compress',
           'choose']

bitwise_invert = ufuncs.invert
bitwise_left_shift = ufuncs.left_shift
bitwise_right_shift = ufuncs.right_shift


def bitwise_count(x, /):
    """Set bits of each integer's absolute value (NumPy's rule), as uint8."""
    return lax.population_count(ufuncs.abs(asarray(x))).astype(np.uint8)


def astype(x, dtype, /, *, copy=False, device=None):
    out = asarray(x).astype(dtype)
    if device is not None:
        from tinyjax.api import device_put
        out = device_put(out, device)
    return out


def copy(a, order=None):
    return array(a, copy=True)


def isin(element, test_elements, assume_unique=False, invert=False, *, method='auto'):
    element = asarray(element)
    tests = manipulation.ravel(asarray(test_elements))
    found = _any(element[..., None] == tests, axis=-1)
    return ~found if invert else found


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


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """num points spaced evenly on a log scale from start to stop (same sign)."""
    dt = dtypes.default_float() if dtype is None else np.dtype(dtype)
    start, stop = asarray(start).astype(dt), asarray(stop).astype(dt)
    sign = ufuncs.sign(start)
    out = sign * creation.logspace(ufuncs.log10(start * sign), ufuncs.log10(stop * sign), num,
                                   endpoint=endpoint, base=10.0, dtype=dt, axis=0)
    if num > 0:       # the ends exactly, as NumPy gives them
        out = out.at[0].set(start)
        if endpoint and num > 1:
            out = out.at[-1].set(stop)
    return manipulation.moveaxis(out, 0, axis) if axis else out


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


def matvec(x1, x2, /):
    """Matrix-vector products over broadcast batch axes: (..., m, n) x (..., n) -> (..., m)."""
    return products.matmul(asarray(x1), asarray(x2)[..., None])[..., 0]


def vecmat(x1, x2, /):
    """conj(vector)-matrix products: (..., n) x (..., n, m) -> (..., m)."""
    return products.matmul(ufuncs.conj(asarray(x1))[..., None, :], asarray(x2))[..., 0, :]


def fromfunction(function, shape, *, dtype=float, **kwargs):
    return function(*statistics.indices(shape, dtype=dtype), **kwargs)


class _IndexExpression:
    def __init__(self, as_tuple):
        self.as_tuple = as_tuple

    def __getitem__(self, item):
        return (item if isinstance(item, tuple) else (item,)) if self.as_tuple else item


index_exp = _IndexExpression(True)
s_ = _IndexExpression(False)


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
