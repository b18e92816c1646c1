"""PRNG keys: seeding, split, fold_in and raw bits, bit-exact with JAX's threefry2x32
under its default `jax_threefry_partitionable=True`.

A raw key (what `PRNGKey` returns) is a uint32[2] array. A typed key (`key(seed)`)
wraps the same data in a `PRNGKeyArray` whose shape leaves out the trailing 2; it is a
pytree with the data as its only leaf, so vmap/jit/grad see plain uint32 arrays.

Every function here is built from primitives (threefry2x32, iota, slices), so it works
eagerly, under vmap (threefry2x32 batches by broadcasting) and under jit.
"""
import math
import operator

import numpy as np

from tinyjax import dtypes, lax, tree_util, numpy as jnp
from tinyjax.core.array import Array
from tinyjax.ops import random_bits as rb
from tinyjax.ops.common import aval_of

_MASK32 = 0xFFFFFFFF
_UINT = {8: dtypes.uint8, 16: dtypes.uint16, 32: dtypes.uint32, 64: dtypes.uint64}


class KeyDType:
    """The dtype of typed keys, printed as JAX prints it (`key<fry>`)."""
    name = 'key<fry>'
    impl = 'threefry2x32'

    def __repr__(self):
        return self.name

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, KeyDType) or other == self.name

    def __hash__(self):
        return hash(self.name)


class PRNGKeyArray:
    """An array of typed threefry keys; `_data` is uint32[*shape, 2]."""
    __slots__ = ('_data',)
    dtype = KeyDType()

    def __init__(self, data):
        self._data = data

    shape = property(lambda self: tuple(aval_of(self._data).shape[:-1]))
    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: math.prod(self.shape))

    def __len__(self):
        if not self.shape:
            raise TypeError('len() of unsized object (a scalar key array)')
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, idx):
        if not isinstance(idx, tuple):
            idx = (idx,)
        if any(i is Ellipsis for i in idx):
            raise IndexError('indexing a key array with ... is not supported')
        return PRNGKeyArray(self._data[idx + (slice(None),)])

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return PRNGKeyArray(self._data.reshape(tuple(shape) + (2,)))

    def __eq__(self, other):
        if not isinstance(other, PRNGKeyArray):
            return NotImplemented
        return (self._data == other._data).all(axis=-1)

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else ~eq

    __hash__ = None

    def __repr__(self):
        return f'Array({self.shape}, dtype={self.dtype}) overlaying:\n{self._data}'


tree_util.register_pytree_node(PRNGKeyArray, lambda k: ([k._data], None),
                               lambda _, leaves: PRNGKeyArray(leaves[0]))


def _arraylike(x):
    return isinstance(x, (Array, np.ndarray, np.generic, bool, int, float, complex))


def check_key(name, key, allow_batched=False):
    """(uint32[..., 2] data, was_raw) for a typed or raw key, with JAX's errors."""
    if isinstance(key, PRNGKeyArray):
        data, raw, shape = key._data, False, key.shape
    elif _arraylike(key):
        data, raw = key, True
        if not all(hasattr(key, a) for a in ('ndim', 'shape', 'dtype')):
            raise TypeError('JAX encountered invalid PRNG key data: expected key_data to '
                            f'have ndim, shape, and dtype attributes. Got {key}')
        check_key_data(key)
        shape = tuple(key.shape)
    else:
        raise TypeError(f'unexpected PRNG key type {type(key)}')
    if not allow_batched and len(aval_of(data).shape) != 1:
        raise ValueError(f'{name} accepts a single key, but was given a key array of shape '
                         f'{shape} != (). Use jax.vmap for batching.')
    return data, raw


def check_key_data(data):
    a = aval_of(data)
    if a.ndim < 1:
        raise TypeError('JAX encountered invalid PRNG key data: expected key_data.ndim >= 1; '
                        f'got ndim={a.ndim}')
    if a.shape[-1:] != (2,):
        raise TypeError('JAX encountered invalid PRNG key data: expected key_data.shape to '
                        f'end with (2,); got shape={a.shape} for impl=threefry2x32')
    if a.dtype != dtypes.uint32:
        raise TypeError('JAX encountered invalid PRNG key data: expected key_data.dtype = '
                        f'uint32; got dtype={a.dtype.name}')


def _rewrap(raw, data):
    return data if raw else PRNGKeyArray(data)


def key_halves(data):
    """The two uint32 words of a single key, as 0-d arrays."""
    k1 = lax.reshape(lax.slice_in_dim(data, 0, 1), ())
    k2 = lax.reshape(lax.slice_in_dim(data, 1, 2), ())
    return k1, k2


def _u32(v):
    return np.uint32(v)


def counters(shape):
    """The low 32 bits of a row-major iota over `shape` (the high bits are 0 here)."""
    n = math.prod(shape)
    if n > 2 ** 32:
        raise NotImplementedError('random bits arrays of more than 2**32 elements')
    if not shape:
        return _u32(0)
    return lax.reshape(lax.iota(dtypes.uint32, n), shape)


def _stack_last(a, b):
    shape = aval_of(a).shape + (1,)
    return lax.concatenate([lax.reshape(a, shape), lax.reshape(b, shape)], len(shape) - 1)


def canonical_shape(shape, name='shape'):
    if isinstance(shape, (int, np.integer)) or not hasattr(shape, '__iter__'):
        raise TypeError('Shapes must be 1D sequences of concrete values of integer type, '
                        f'got {shape!r}.')
    try:
        out = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError('Shapes must be 1D sequences of concrete values of integer type, '
                        f'got {tuple(shape)!r}.') from None
    if any(d < 0 for d in out):
        raise ValueError(f"'{name}' elements must be non-negative, got {out}")
    return out


# --- seeding -------------------------------------------------------------------------
def _seed_data(ctor, seed):
    if isinstance(seed, PRNGKeyArray):
        raise TypeError(f'{ctor} accepts a scalar seed, but was given a PRNG key.')
    if np.ndim(seed) if not isinstance(seed, Array) else seed.ndim:
        raise TypeError(f'{ctor} accepts a scalar seed, but was given an array of shape '
                        f'{np.shape(seed) if not isinstance(seed, Array) else seed.shape} '
                        '!= (). Use jax.vmap for batching')
    if isinstance(seed, bool) or (not isinstance(seed, int) and
                                  not dtypes.is_int(aval_of(seed).dtype)):
        raise TypeError(f'PRNG key seed must be an integer; got {seed!r}')
    if isinstance(seed, int):
        # JAX reads a Python int as int64 (OverflowError beyond), then canonicalises:
        # without x64 only its low 32 bits survive.
        s = int(np.int64(seed)) % 2 ** 64
        hi = (s >> 32) if dtypes.default_int() == dtypes.int64 else 0
        return jnp.asarray(np.array([hi, s & _MASK32], np.uint32))
    seed = seed if isinstance(seed, Array) else np.asarray(seed)
    seed = jnp.asarray(seed)
    # JAX's rule: high word = seed >> 32 (logical; 0 for seeds of 32 bits or fewer),
    # low word = the seed's low 32 bits (narrower signed seeds sign-extend).
    thirty_two = np.asarray(32, seed.dtype)
    hi = lax.convert_element_type(lax.shift_right_logical(seed, thirty_two), dtypes.uint32)
    lo = lax.convert_element_type(seed, dtypes.uint32)
    return _stack_last(hi, lo)


def PRNGKey(seed, *, impl=None):
    """A raw uint32[2] key from an integer seed (JAX's legacy key)."""
    _check_impl(impl)
    return _seed_data('PRNGKey', seed)


def key(seed, *, impl=None, dtype=None):
    """A typed scalar key from an integer seed."""
    if impl is not None and dtype is not None:
        raise ValueError('Cannot specify both `impl` and `dtype` arguments to jax.random.key')
    _check_impl(impl if dtype is None else dtype)
    return PRNGKeyArray(_seed_data('key', seed))


def _check_impl(impl):
    if impl is None or impl == 'threefry2x32' or isinstance(impl, KeyDType):
        return
    raise ValueError(f'unrecognized PRNG implementation "{impl}": tinyjax implements only '
                     '"threefry2x32"')


def key_data(keys):
    """The uint32[..., 2] data underneath a key array (a raw key is its own data)."""
    data, _ = check_key('key_data', keys, allow_batched=True)
    return data


def wrap_key_data(key_bits_array, *, impl=None, dtype=None):
    """A typed key array over uint32[..., 2] data."""
    if impl is not None and dtype is not None:
        raise ValueError('Cannot specify both `impl` and `dtype` arguments to '
                         'jax.random.wrap_key_data')
    _check_impl(impl if dtype is None else dtype)
    if isinstance(key_bits_array, PRNGKeyArray):
        raise TypeError('wrap_key_data expects uint32 key data, got a key array')
    data = key_bits_array if isinstance(key_bits_array, Array) else jnp.asarray(key_bits_array)
    check_key_data(data)
    return PRNGKeyArray(data)


def key_impl(keys):
    check_key('key_impl', keys, allow_batched=True)
    return 'threefry2x32'


def key_dtype(impl=None):
    _check_impl(impl)
    return KeyDType()


# --- split, fold_in, bits ----------------------------------------------------------
def split(key, num=2):
    """`num` new keys (num may be a shape) with a leading axis (axes)."""
    data, raw = check_key('split', key)
    shape = canonical_shape(tuple(num) if isinstance(num, (tuple, list)) else (num,), 'num')
    return _rewrap(raw, split_data(data, shape))


def split_data(data, shape):
    k1, k2 = key_halves(data)
    y1, y2 = rb.threefry2x32(k1, k2, _u32(0), _u32(0) if not shape else counters(shape))
    return _stack_last(y1, y2)


def fold_in(key, data):
    """A new key that deterministically mixes a 32-bit integer into `key`."""
    kd, raw = check_key('fold_in', key)
    if (data.ndim if isinstance(data, Array) else np.ndim(data)):
        raise TypeError('fold_in accepts a scalar, but was given an array of shape '
                        f'{np.shape(data) if not isinstance(data, Array) else data.shape} != (). '
                        'Use jax.vmap for batching.')
    if isinstance(data, int) and not isinstance(data, bool):
        if not 0 <= data <= _MASK32:
            raise OverflowError(f'Python integer {int(data)} out of bounds for uint32')
        msg = _u32(data)
    else:
        msg = lax.convert_element_type(jnp.asarray(data), dtypes.uint32)
    k1, k2 = key_halves(kd)
    y1, y2 = rb.threefry2x32(k1, k2, _u32(0), msg)
    return _rewrap(raw, _stack_last(y1, y2))


def random_bits(data, bit_width, shape):
    """uint{bit_width} bits of `shape` from a single key's data."""
    k1, k2 = key_halves(data)
    y1, y2 = random_bits_pair(k1, k2, shape)
    dt = _UINT[bit_width]
    if bit_width == 64:
        hi = lax.convert_element_type(y1, dt)
        lo = lax.convert_element_type(y2, dt)
        return lax.bitwise_or(lax.shift_left(hi, np.uint64(32)), lo)
    bits = lax.bitwise_xor(y1, y2)
    return bits if bit_width == 32 else lax.convert_element_type(bits, dt)


def random_bits_pair(k1, k2, shape):
    return rb.threefry2x32(k1, k2, _u32(0), counters(shape))


def bits(key, shape=(), dtype=None):
    """Uniform random unsigned integers (default uint32, uint64 under x64)."""
    data, _ = check_key('bits', key)
    dt = dtypes.canonicalize(np.dtype(dtype) if dtype is not None else dtypes.uint64)
    if not dtypes.is_unsigned(dt):
        raise ValueError(f'dtype argument to `bits` must be an unsigned int dtype, got {dt}')
    return random_bits(data, dt.itemsize * 8, canonical_shape(shape))
