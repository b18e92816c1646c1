"""Dtypes and JAX's type promotion.

JAX promotes along a lattice rather than NumPy's value-based rules, and Python
scalars are *weakly typed*: `x_f32 * 2.0` stays float32. The lattice below is JAX's
(documented in "Type promotion semantics"); `promote_types` is its least upper bound.
"""
import numpy as np
import ml_dtypes

from tinyjax import config

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
bfloat16 = np.dtype(ml_dtypes.bfloat16)
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)
# JAX's dtype of zero-size tangents for integer inputs.
float0 = np.dtype([('float0', np.void, 0)])

_SHORT = {bool_: 'bool', int8: 'i8', int16: 'i16', int32: 'i32', int64: 'i64',
          uint8: 'u8', uint16: 'u16', uint32: 'u32', uint64: 'u64', float16: 'f16',
          bfloat16: 'bf16', float32: 'f32', float64: 'f64', complex64: 'c64',
          complex128: 'c128', float0: 'float0'}


def short_name(dtype):
    return _SHORT.get(np.dtype(dtype), str(dtype))


def is_float(dtype):
    dtype = np.dtype(dtype)
    return dtype == bfloat16 or np.issubdtype(dtype, np.floating)


def is_complex(dtype):
    return np.issubdtype(np.dtype(dtype), np.complexfloating)


def is_inexact(dtype):
    return is_float(dtype) or is_complex(dtype)


def is_int(dtype):
    return np.issubdtype(np.dtype(dtype), np.integer)


def is_unsigned(dtype):
    return np.issubdtype(np.dtype(dtype), np.unsignedinteger)


def is_bool(dtype):
    return np.dtype(dtype) == bool_


def finfo(dtype):
    return ml_dtypes.finfo(dtype) if np.dtype(dtype) == bfloat16 else np.finfo(dtype)


def iinfo(dtype):
    return np.iinfo(dtype)


_TO32 = {int64: int32, uint64: uint32, float64: float32, complex128: complex64}


def canonicalize(dtype):
    """The dtype a value of `dtype` gets: 64-bit types shrink unless x64 is on."""
    dtype = np.dtype(dtype)
    if config.read('jax_enable_x64'):
        return dtype
    return _TO32.get(dtype, dtype)


def default_int():
    return canonicalize(int64)


def default_float():
    return canonicalize(float64)


def default_complex():
    return canonicalize(complex128)


# Lattice nodes: concrete dtypes plus the weak kinds 'i*', 'f*', 'c*' of Python scalars.
_LATTICE = {
    bool_: ['i*'], 'i*': [uint8, int8], 'f*': [bfloat16, float16, 'c*'], 'c*': [complex64],
    uint8: [uint16, int16], uint16: [uint32, int32], uint32: [uint64, int64], uint64: ['f*'],
    int8: [int16], int16: [int32], int32: [int64], int64: ['f*'],
    bfloat16: [float32], float16: [float32], float32: [float64, complex64],
    float64: [complex128], complex64: [complex128], complex128: [],
}


def _upper_sets():
    ups = {}

    def visit(node):
        if node not in ups:
            s = {node}
            for n in _LATTICE[node]:
                s |= visit(n)
            ups[node] = s
        return ups[node]
    for node in _LATTICE:
        visit(node)
    return ups


_UP = _upper_sets()
_WEAK_KIND = {'i*': int64, 'f*': float64, 'c*': complex128}


def _node(dtype, weak):
    dtype = np.dtype(dtype)
    if weak and dtype != bool_:
        if is_int(dtype):
            return 'i*'
        if is_float(dtype):
            return 'f*'
        if is_complex(dtype):
            return 'c*'
    return dtype


def _join(a, b):
    common = _UP[a] & _UP[b]
    # The least upper bound is the common node every other common node lies above.
    for n in common:
        if common <= _UP[n]:
            return n
    raise TypeError(f'no common type for {a} and {b}')


def result_type_weak(*pairs):
    """JAX's promotion over (dtype, weak) pairs; returns (dtype, weak)."""
    node = _node(*pairs[0])
    for p in pairs[1:]:
        node = _join(node, _node(*p))
    if isinstance(node, str):
        return canonicalize(_WEAK_KIND[node]), True
    return canonicalize(node), False


def promote_types(a, b):
    """jnp.promote_types: promotion of two strong dtypes."""
    return result_type_weak((np.dtype(a), False), (np.dtype(b), False))[0]


def python_scalar_dtype(x):
    """The (canonical, weak) dtype of a Python scalar."""
    if isinstance(x, bool):
        return bool_
    if isinstance(x, int):
        return default_int()
    if isinstance(x, float):
        return default_float()
    if isinstance(x, complex):
        return default_complex()
    raise TypeError(f'{type(x).__name__} is not a Python scalar')


def dtype(x):
    """The dtype tinyjax gives `x` (a dtype-like, a scalar, or an array)."""
    if isinstance(x, (bool, int, float, complex)):
        return python_scalar_dtype(x)
    if hasattr(x, 'dtype') and not isinstance(x, (type, np.dtype)):
        return canonicalize(x.dtype)
    return canonicalize(np.dtype(x))


# --- jax.dtypes' public functions ----------------------------------------------------
canonicalize_dtype = canonicalize


def _pair(x):
    """(dtype, weak) of a Python scalar, an array-like (its own weak_type if it has one)
    or a dtype-like."""
    if isinstance(x, (bool, int, float, complex)):
        return python_scalar_dtype(x), not isinstance(x, bool)
    if hasattr(x, 'dtype') and not isinstance(x, (np.dtype, type)):
        return np.dtype(x.dtype), bool(getattr(x, 'weak_type', False))
    if isinstance(x, str) and x == 'bfloat16':
        return bfloat16, False
    return np.dtype(x), False


def result_type(*args, return_weak_type_flag=False):
    """The dtype JAX's promotion gives `args` (arrays, scalars, dtypes), canonicalized;
    with return_weak_type_flag, also whether it is weakly typed."""
    if not args:
        raise ValueError('at least one array or dtype is required')
    dt, weak = result_type_weak(*[_pair(a) for a in args])
    return (dt, weak) if return_weak_type_flag else dt


def issubdtype(arg1, arg2):
    """np.issubdtype, knowing that bfloat16 is a floating type."""
    if not isinstance(arg1, type):
        arg1 = np.dtype(arg1)
    if not isinstance(arg2, type):
        arg2 = np.dtype(arg2)
    if isinstance(arg1, np.dtype) and arg1 == bfloat16:
        return arg2 in (np.floating, np.inexact, np.number, np.generic) or \
            (isinstance(arg2, np.dtype) and arg2 == bfloat16)
    return np.issubdtype(arg1, arg2)


def scalar_type_of(x):
    """The Python scalar type (bool, int, float, complex) of a value's dtype."""
    dt = dtype(x)
    for kind, pytype in ((np.bool_, bool), (np.integer, int), (np.floating, float),
                         (np.complexfloating, complex)):
        if issubdtype(dt, kind):
            return pytype
    raise TypeError(f'scalar_type_of: no Python scalar type for dtype {dt}')


def itemsize_bits(dtype_like):
    """Bits per element of the dtype."""
    return np.dtype(dtype_like).itemsize * 8
