"""Operators and methods of tinyjax.Array (shared by concrete arrays and tracers)."""
import numpy as np

from tinyjax import dtypes, lax
from tinyjax.core.array import Array
from tinyjax.numpy import manipulation, products, reductions, ufuncs
from tinyjax.numpy.conversion import asarray, _dtype_of
from tinyjax.numpy.indexing import getitem, AtIndexer, take
from tinyjax.numpy.sorting import sort, argsort, cumsum, cumprod
from tinyjax.ops.elementwise import PRIMS


def _defer(op):
    """Binary operator that returns NotImplemented for unknown types (so NumPy etc. can try)."""
    def method(self, other):
        if not isinstance(other, (Array, np.ndarray, np.generic, bool, int, float, complex, list, tuple)):
            return NotImplemented
        return op(self, other)
    return method


def _rdefer(op):
    def method(self, other):
        if not isinstance(other, (Array, np.ndarray, np.generic, bool, int, float, complex, list, tuple)):
            return NotImplemented
        return op(other, self)
    return method


_BINARY = {
    'add': ufuncs.add, 'sub': ufuncs.subtract, 'mul': ufuncs.multiply,
    'truediv': ufuncs.true_divide, 'floordiv': ufuncs.floor_divide, 'mod': ufuncs.remainder,
    'pow': ufuncs.power, 'matmul': products.matmul, 'and': ufuncs.bitwise_and,
    'or': ufuncs.bitwise_or, 'xor': ufuncs.bitwise_xor, 'lshift': ufuncs.left_shift,
    'rshift': ufuncs.right_shift, 'divmod': ufuncs.divmod,
}
_COMPARE = {'eq': ufuncs.equal, 'ne': ufuncs.not_equal, 'lt': ufuncs.less, 'le': ufuncs.less_equal,
            'gt': ufuncs.greater, 'ge': ufuncs.greater_equal}


def _astype(self, dtype, copy=False, device=None):
    return lax.convert_element_type(self, dtypes.canonicalize(_dtype_of(dtype if isinstance(dtype, type) else getattr(dtype, 'dtype', dtype))))


def _reshape(self, *shape, order='C'):
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return manipulation.reshape(self, shape, order)


def _transpose(self, *axes):
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]
    return manipulation.transpose(self, axes or None)


def _getitem(self, idx):
    return getitem(self, idx)


def _no_setitem(self, idx, value):
    raise TypeError(
        'JAX arrays are immutable and do not support in-place item assignment. Instead of '
        'x[idx] = y, use x = x.at[idx].set(y) or another .at[] method; for a mutable array, '
        'jax.ref.new_ref(x).')


def _at(self):
    return AtIndexer(self)


def _sort(self, axis=-1, **kw):
    return sort(self, axis=axis, **kw)


def _argsort(self, axis=-1, **kw):
    return argsort(self, axis=axis, **kw)


def _cumsum(self, axis=None, dtype=None):
    return cumsum(self, axis, dtype)


def _cumprod(self, axis=None, dtype=None):
    return cumprod(self, axis, dtype)


def _take(self, indices, axis=None, mode=None, fill_value=None):
    return take(self, indices, axis=axis, mode=mode, fill_value=fill_value)


def install():
    for name, fn in _BINARY.items():
        setattr(Array, f'__{name}__', _defer(fn))
        setattr(Array, f'__r{name}__', _rdefer(fn))
    for name, fn in _COMPARE.items():
        setattr(Array, f'__{name}__', _defer(fn))
    Array.__neg__ = lambda self: ufuncs.negative(self)
    Array.__pos__ = lambda self: self
    Array.__abs__ = lambda self: ufuncs.absolute(self)
    Array.__invert__ = lambda self: ufuncs.invert(self)
    Array.__round__ = lambda self, ndigits=None: ufuncs.round(self, ndigits or 0)
    Array.__getitem__ = _getitem
    Array.__setitem__ = _no_setitem
    Array.at = property(_at)
    Array.T = property(lambda self: manipulation.transpose(self))
    Array.mT = property(lambda self: manipulation.matrix_transpose(self))
    Array.real = property(lambda self: ufuncs.real(self))
    Array.imag = property(lambda self: ufuncs.imag(self))
    Array.astype = _astype
    Array.reshape = _reshape
    Array.transpose = _transpose
    Array.ravel = lambda self, order='C': manipulation.ravel(self, order)
    Array.flatten = lambda self, order='C': manipulation.ravel(self, order)
    Array.squeeze = lambda self, axis=None: manipulation.squeeze(self, axis)
    Array.swapaxes = lambda self, a, b: manipulation.swapaxes(self, a, b)
    Array.repeat = lambda self, repeats, axis=None, **kw: manipulation.repeat(self, repeats, axis, **kw)
    Array.flip = lambda self, axis=None: manipulation.flip(self, axis)
    Array.sum = reductions.sum
    Array.prod = reductions.prod
    Array.max = reductions.max
    Array.min = reductions.min
    Array.mean = reductions.mean
    Array.var = reductions.var
    Array.std = reductions.std
    Array.all = reductions.all
    Array.any = reductions.any
    Array.argmax = reductions.argmax
    Array.argmin = reductions.argmin
    Array.ptp = reductions.ptp
    Array.clip = lambda self, min=None, max=None: ufuncs.clip(self, min, max)
    Array.round = lambda self, decimals=0: ufuncs.round(self, decimals)
    Array.dot = lambda self, b, **kw: products.dot(self, b, **kw)
    Array.conj = Array.conjugate = lambda self: ufuncs.conjugate(self)
    Array.sort = _sort
    Array.argsort = _argsort
    Array.cumsum = _cumsum
    Array.cumprod = _cumprod
    Array.take = _take
    Array.nonzero = lambda self, **kw: manipulation.nonzero(self, **kw)
    Array.diagonal = lambda self, offset=0, axis1=0, axis2=1: manipulation.diagonal(self, offset, axis1, axis2)
    Array.trace = lambda self, offset=0, axis1=0, axis2=1, dtype=None: manipulation.trace(self, offset, axis1, axis2, dtype)
    Array.view = lambda self, dtype=None: self if dtype is None else _bitcast(self, dtype)
    Array.copy = lambda self: _copy_p().bind(self)
    Array.__copy__ = lambda self: self
    Array.__deepcopy__ = lambda self, memo: self


def _bitcast(x, dtype):
    arr = np.asarray(x).view(np.dtype(dtype))
    return asarray(arr)


def _copy_p():
    return PRIMS['copy']
