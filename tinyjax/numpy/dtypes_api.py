"""Scalar types (`jnp.float32(1.0)`), dtype queries and constants of tinyjax.numpy."""
import numpy as np

from tinyjax import dtypes
from tinyjax.numpy.conversion import asarray


class _ScalarType:
    """`jnp.float32`: usable as a dtype, and callable to make an array of that dtype."""

    def __init__(self, name, dtype):
        self.__name__ = self.__qualname__ = name
        self.dtype = np.dtype(dtype)

    def __call__(self, x):
        return asarray(x, self.dtype)

    def __repr__(self):
        return f"<class 'tinyjax.numpy.{self.__name__}'>"

    def __eq__(self, other):
        try:
            return np.dtype(other) == self.dtype
        except TypeError:
            return False

    def __hash__(self):
        return hash(self.dtype)


bool_ = _ScalarType('bool_', dtypes.bool_)
int8, int16, int32, int64 = (_ScalarType(n, getattr(dtypes, n)) for n in ('int8', 'int16', 'int32', 'int64'))
uint8, uint16, uint32, uint64 = (_ScalarType(n, getattr(dtypes, n)) for n in ('uint8', 'uint16', 'uint32', 'uint64'))
float16, float32, float64 = (_ScalarType(n, getattr(dtypes, n)) for n in ('float16', 'float32', 'float64'))
bfloat16 = _ScalarType('bfloat16', dtypes.bfloat16)
complex64, complex128 = _ScalarType('complex64', dtypes.complex64), _ScalarType('complex128', dtypes.complex128)
float_, int_, uint, complex_ = float64, int64, uint64, complex128
single, double = float32, float64
float0 = dtypes.float0

# Abstract classes for issubdtype, as in NumPy.
generic, number, inexact, floating = np.generic, np.number, np.inexact, np.floating
integer, signedinteger, unsignedinteger, complexfloating = (
    np.integer, np.signedinteger, np.unsignedinteger, np.complexfloating)

pi, e, euler_gamma, inf, nan = np.pi, np.e, np.euler_gamma, np.inf, np.nan
newaxis = None


def dtype(x, align=False):
    return np.dtype(x.dtype if isinstance(x, _ScalarType) else x)


def issubdtype(arg1, arg2):
    a = np.dtype(arg1) if not (isinstance(arg1, type) and issubclass(arg1, np.generic)) else arg1
    if isinstance(arg2, _ScalarType):
        arg2 = arg2.dtype
    if np.dtype(a) == dtypes.bfloat16 if not isinstance(a, type) else False:
        return arg2 in (np.floating, np.inexact, np.number, np.generic) or \
            (not isinstance(arg2, type) and np.dtype(arg2) == dtypes.bfloat16)
    return np.issubdtype(a, arg2)


def promote_types(a, b):
    return dtypes.promote_types(dtype(a), dtype(b))


def finfo(dt):
    return dtypes.finfo(dtype(dt))


def iinfo(dt):
    return np.iinfo(dtype(dt))


def can_cast(from_, to, casting='safe'):
    return np.can_cast(dtype(from_) if not hasattr(from_, 'aval') else from_.dtype, dtype(to), casting)


def isscalar(x):
    from tinyjax.core.array import Array
    if isinstance(x, Array):
        return x.ndim == 0
    return np.isscalar(x)


def ndim(x):
    return np.ndim(x) if not hasattr(x, 'aval') else x.ndim


def shape(x):
    return np.shape(x) if not hasattr(x, 'aval') else x.shape


def size(x, axis=None):
    s = shape(x)
    return int(np.prod(s)) if axis is None else s[axis]
