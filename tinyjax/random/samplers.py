"""Samplers: uniform, normal, randint, permutation, choice, ... on top of random bits.

Each follows JAX's construction step for step (the same key splits, the same bit
widths, the same float arithmetic), which is what makes the results bit-identical:
a uniform float is 1.0's exponent with random mantissa bits, minus one; normals go
through erf_inv; integers take two words of bits and a modulus; permutations sort by
random keys.
"""
import math

import numpy as np

from tinyjax import dtypes, lax
from tinyjax import numpy as jnp
from tinyjax.core.array import Array
from tinyjax.numpy.conversion import _dtype_of, broadcast_all, promote_inexact
from tinyjax.ops import exact_fma, random_bits as rb
from tinyjax.ops.common import aval_of, normalize_axis
from tinyjax.random import erf_inv32
from tinyjax.ops.layout import takes_out_sharding
from tinyjax.random.keys import (
    _UINT, canonical_shape, check_key, random_bits, split_data)

_SQRT2 = math.sqrt(2)


def _float_dtype(name, dtype, complex_ok=False):
    dt = dtypes.default_float() if dtype is None else dtypes.canonicalize(_dtype_of(dtype))
    if not (dtypes.is_float(dt) or (complex_ok and dtypes.is_complex(dt))):
        kind = 'a float or complex' if complex_ok else 'a float'
        raise ValueError(f'dtype argument to `{name}` must be {kind} dtype, got {dt}')
    return dt


def _const(value, dtype):
    return np.asarray(value, dtype)


def _param(x, dtype):
    """A strongly typed array of `dtype` for a distribution parameter."""
    return lax.convert_element_type(jnp.asarray(x), dtype)


def _check_shape(name, shape, *param_shapes):
    """JAX's rule: parameters broadcast to `shape` without enlarging it."""
    if not param_shapes:
        return
    try:
        full = tuple(np.broadcast_shapes(shape, *param_shapes))
    except ValueError:
        raise ValueError(f'Incompatible shapes for broadcasting: shapes='
                         f'{[tuple(shape)] + [tuple(s) for s in param_shapes]}') from None
    if full != tuple(shape):
        raise ValueError(f'{name} parameter shapes must be broadcast-compatible with shape '
                         'argument, and the result of broadcasting the shapes must equal the '
                         f'shape argument, but got result {full} for shape argument {shape}.')


def _key_rows(data):
    """Two keys from split(key), as single-key data (JAX's `k1, k2 = _split(key)`)."""
    keys = split_data(data, (2,))
    return (lax.reshape(lax.slice_in_dim(keys, 0, 1), (2,)),
            lax.reshape(lax.slice_in_dim(keys, 1, 2), (2,)))


# --- uniform family ------------------------------------------------------------------
def unit_floats(data, shape, dtype):
    """Floats in [0, 1): random mantissa bits under 1.0's exponent, minus 1."""
    fi = dtypes.finfo(dtype)
    nbits, nmant = fi.bits, fi.nmant
    rng_bits = 8 if nmant < 8 else nbits      # bfloat16 draws one byte, as JAX does
    udt = _UINT[nbits]
    bits = lax.convert_element_type(random_bits(data, rng_bits, shape), udt)
    mant = lax.shift_right_logical(bits, _const(rng_bits - nmant, udt))
    one = _const(np.array(1.0, dtype).view(udt), udt)
    floats = rb.bitcast_convert_type(lax.bitwise_or(mant, one), dtype)
    return lax.sub(floats, _const(1.0, dtype))


def _uniform(data, shape, dtype, minval, maxval):
    minval, maxval = _param(minval, dtype), _param(maxval, dtype)
    for v in (minval, maxval):
        if not _broadcasts_to(v.shape, shape):
            raise TypeError(f'uniform: minval/maxval of shape {v.shape} must broadcast to the '
                            f'sample shape {shape} without enlarging it')
    floats = unit_floats(data, shape, dtype)
    scale = jnp.subtract(maxval, minval)
    if dtype in (dtypes.float32, dtypes.float64):
        # JAX writes floats * (maxval - minval) + minval; XLA compiles it to one fused
        # multiply-add, whose single rounding decides the last bit. (float16/bfloat16
        # round after each op there, as here.)
        out = exact_fma.fma(*broadcast_all(floats, scale, minval))
    else:
        out = jnp.add(jnp.multiply(floats, scale), minval)
    # Rounding may land a hair below minval; clip as JAX does.
    return jnp.maximum(minval, out)


def _broadcasts_to(small, shape):
    try:
        return tuple(np.broadcast_shapes(small, shape)) == tuple(shape)
    except ValueError:
        return False


@takes_out_sharding
def uniform(key, shape=(), dtype=None, minval=0., maxval=1.):
    """Uniform floats in [minval, maxval)."""
    data, _ = check_key('uniform', key)
    dtype = _float_dtype('uniform', dtype)
    return _uniform(data, canonical_shape(shape), dtype, minval, maxval)


def _erf_inv(u):
    dt = aval_of(u).dtype
    if dt == dtypes.float64:
        return lax.erf_inv(u)
    # XLA evaluates float32 (and, widened, float16/bfloat16) erf_inv with Giles'
    # single-precision polynomial; using the same one keeps normals within an ulp of JAX.
    out = erf_inv32.erf_inv_f32(lax.convert_element_type(u, dtypes.float32))
    return lax.convert_element_type(out, dt)


def _normal_real(data, shape, dtype):
    lo = np.nextafter(np.array(-1., dtype), np.array(0., dtype))
    u = _uniform(data, shape, dtype, lo, _const(1., dtype))
    return lax.mul(_const(_SQRT2, dtype), _erf_inv(u))


@takes_out_sharding
def normal(key, shape=(), dtype=None):
    """Standard normal samples (complex dtypes: independent real and imaginary halves)."""
    data, _ = check_key('normal', key)
    dtype = _float_dtype('normal', dtype, complex_ok=True)
    shape = canonical_shape(shape)
    if dtypes.is_complex(dtype):
        real = np.dtype(np.array(0, dtype).real.dtype)
        k_re, k_im = _key_rows(data)
        re = _normal_real(k_re, shape, real).astype(dtype)
        im = _normal_real(k_im, shape, real).astype(dtype)
        return (re + 1j * im) / _const(_SQRT2, dtype)
    return _normal_real(data, shape, dtype)


def truncated_normal(key, lower, upper, shape=None, dtype=None):
    """Normal samples conditioned on lower < x < upper."""
    if shape is not None:
        shape = canonical_shape(shape)
    data, _ = check_key('truncated_normal', key)
    dtype = _float_dtype('truncated_normal', dtype)
    if shape is None:
        shape = jnp.broadcast_shapes(np.shape(lower), np.shape(upper))
    else:
        _check_shape('truncated_normal', shape, np.shape(lower), np.shape(upper))
    sqrt2 = _const(_SQRT2, dtype)
    lower, upper = _param(lower, dtype), _param(upper, dtype)
    a = lax.erf(lax.div(lower, sqrt2))
    b = lax.erf(lax.div(upper, sqrt2))
    u = _uniform(data, tuple(shape), dtype, a, b)
    out = lax.mul(sqrt2, _erf_inv(u))
    # Keep to the open interval even where rounding (or u == a) lands on a bound.
    lo = lax.nextafter(lax.stop_gradient(lower), _const(np.inf, dtype))
    hi = lax.nextafter(lax.stop_gradient(upper), _const(-np.inf, dtype))
    return jnp.clip(out, lo, hi)


@takes_out_sharding
def bernoulli(key, p=0.5, shape=None, mode='low'):
    """Booleans that are True with probability p."""
    if shape is not None:
        shape = canonical_shape(shape)
    if mode not in ('high', 'low'):
        raise ValueError(f"got mode={mode!r}, expected 'high' or 'low'")
    data, _ = check_key('bernoulli', key)
    p = jnp.asarray(p)
    if not dtypes.is_float(p.dtype):
        raise TypeError(f'bernoulli probability `p` must have a floating dtype, got {p.dtype}.')
    if shape is None:
        shape = p.shape
    else:
        _check_shape('bernoulli', shape, p.shape)
    dtype = p.dtype
    if mode == 'high':
        u = _uniform(data, (2,) + tuple(shape), dtype, 0., 1.)
        u1, u2 = u[0], u[1]
        u2 = u2 * _const(2. ** -dtypes.finfo(dtype).nmant, dtype)
        return u2 < p - u1
    return _uniform(data, tuple(shape), dtype, 0., 1.) < p


def exponential(key, shape=(), dtype=None):
    data, _ = check_key('exponential', key)
    dtype = _float_dtype('exponential', dtype)
    u = _uniform(data, canonical_shape(shape), dtype, 0., 1.)
    # 1 - u keeps log's argument in (0, 1].
    return lax.neg(lax.log1p(lax.neg(u)))


def gumbel(key, shape=(), dtype=None, mode=None):
    data, _ = check_key('gumbel', key)
    dtype = _float_dtype('gumbel', dtype)
    shape = canonical_shape(shape)
    mode = 'low' if mode is None else mode
    if mode not in ('highest', 'high', 'low'):
        raise ValueError(f'Must provide valid mode for gumbel got: {mode}')
    return _gumbel(data, shape, dtype, mode)


def _gumbel(data, shape, dtype, mode):
    fi = dtypes.finfo(dtype)
    if mode == 'highest' and dtype == dtypes.float32:
        return _gumbel_64bit_uniform(data, shape)
    if mode in ('high', 'highest'):
        u = _uniform(data, (2,) + shape, dtype, 0., 1.)
        high, low = u[0], u[1]
        x = jnp.where(high >= _const(0.5, dtype), high,
                      high + _const(2. ** -fi.nmant, dtype) * low + _const(fi.tiny, dtype))
        return -jnp.log(-jnp.log1p(-x))
    u = _uniform(data, shape, dtype, _const(fi.tiny, dtype), 1.)
    return -jnp.log(-jnp.log(u))


def _gumbel_64bit_uniform(data, shape):
    """float32 Gumbel samples from a 64-bit uniform u = (hi * 2**32 + lo) / 2**64, as JAX's
    mode='highest' draws them. The uniform fed to -log(-log(.)) is 1 - u: for u < 1/2 it
    is formed as log1p(-u); otherwise 1 - u is exact in 64-bit fixed point (two's
    complement of the two words) and then turned into a float32 by truncation, so values
    down to 2**-64 keep a full mantissa."""
    u32 = np.uint32
    words = lax.convert_element_type(random_bits(data, 32, (2,) + shape), u32)
    hi, lo = (lax.reshape(lax.slice_in_dim(words, k, k + 1), shape) for k in (0, 1))
    small = lax.lt(hi, _const(1 << 31, u32))
    carry = lax.convert_element_type(lax.eq(lo, _const(0, u32)), u32)
    hi = lax.select_n(small, lax.add(lax.bitwise_not(hi), carry), hi)
    lo = lax.select_n(small, lax.add(lax.bitwise_not(lo), _const(1, u32)), lo)
    x = _fraction_to_float32(hi, lo)
    return lax.select_n(small, lax.neg(lax.log(lax.neg(lax.log(x)))),
                        lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x))))))


def _fraction_to_float32(hi, lo):
    """The 64-bit fixed-point fraction (hi, lo) as a float32, mantissa truncated; zero
    becomes 2**-65."""
    u32 = np.uint32
    c = lambda v: _const(v, u32)
    hz, lz = lax.clz(hi), lax.clz(lo)
    hi_zero = lax.eq(hz, c(32))
    lead = lax.select_n(hi_zero, hz, lax.add(c(32), lz))          # leading zeros of 64
    top = lax.select_n(hi_zero,
                       lax.bitwise_or(lax.shift_left(hi, hz),
                                      lax.shift_right_logical(lo, lax.sub(c(32), hz))),
                       lax.shift_left(lo, lz))                      # leading one at bit 31
    mant = lax.bitwise_and(lax.shift_right_logical(top, c(8)), c((1 << 23) - 1))
    expo = lax.bitwise_and(lax.shift_left(lax.sub(c(126), lead), c(23)), c(0xFF << 23))
    return rb.bitcast_convert_type(lax.bitwise_or(expo, mant), np.float32)


# --- integers ------------------------------------------------------------------------
def _clip_convert(val, dtype):
    """Convert integer `val` to `dtype`, saturating instead of wrapping."""
    a, b = dtypes.iinfo(dtype), dtypes.iinfo(val.dtype)
    lo = _const(max(a.min, b.min), val.dtype)
    hi = _const(min(a.max, b.max), val.dtype)
    return lax.convert_element_type(jnp.clip(val, lo, hi), dtype)


@takes_out_sharding
def randint(key, shape, minval, maxval, dtype=None):
    """Integers in [minval, maxval) (JAX's two-word modulus method)."""
    data, _ = check_key('randint', key)
    dt = dtypes.default_int() if dtype is None else dtypes.canonicalize(_dtype_of(dtype))
    shape = canonical_shape(shape)
    if not dtypes.is_int(dt):
        raise TypeError(f'randint only accepts integer dtypes, got {dt}')
    info = dtypes.iinfo(dt)
    sampling = dt
    if info.bits < 32:
        # Narrow types sample in 32 bits to keep the modulus bias small.
        sampling = dtypes.int32
        minval = jnp.clip(jnp.asarray(minval).astype(np.int32), int(info.min), int(info.max))
        maxval = jnp.clip(jnp.asarray(maxval).astype(np.int32), int(info.min), int(info.max) + 1)
    return _randint(data, shape, minval, maxval, sampling).astype(dt)


def _randint(data, shape, minval, maxval, dtype):
    _check_shape('randint', shape, np.shape(minval), np.shape(maxval))
    minval, maxval = jnp.asarray(minval), jnp.asarray(maxval)
    if not dtypes.is_int(minval.dtype):
        minval = minval.astype(dtypes.default_int())
    if not dtypes.is_int(maxval.dtype):
        maxval = maxval.astype(dtypes.default_int())
    # randint(key, s, 0, 256, uint8) must reach 255: remember where maxval overflows.
    top = _clip_convert(jnp.asarray(_const(dtypes.iinfo(dtype).max, dtype)), maxval.dtype)
    maxval_out_of_range = jnp.broadcast_to(maxval > top, shape)
    minval = jnp.broadcast_to(_clip_convert(minval, dtype), shape)
    maxval = jnp.broadcast_to(_clip_convert(maxval, dtype), shape)
    nbits = dtypes.iinfo(dtype).bits
    k1, k2 = _key_rows(data)
    higher, lower = random_bits(k1, nbits, shape), random_bits(k2, nbits, shape)
    udt = _UINT[nbits]
    span = lax.convert_element_type(lax.sub(maxval, minval), udt)
    one = _const(1, udt)
    # An empty range returns minval (span 1); an overflowing maxval widens it by one.
    span = lax.select(lax.le(maxval, minval), jnp.broadcast_to(one, shape), span)
    span = lax.select(lax.bitwise_and(maxval_out_of_range, lax.gt(maxval, minval)),
                      lax.add(span, one), span)
    # (hi * 2**nbits + lo) mod span without overflow, via (a*b) % n = ((a%n)(b%n)) % n.
    mult = lax.rem(jnp.broadcast_to(_const(2 ** (nbits // 2), udt), shape), span)
    mult = lax.rem(lax.mul(mult, mult), span)
    offset = lax.add(lax.mul(lax.rem(higher, span), mult), lax.rem(lower, span))
    offset = lax.rem(offset, span)
    return lax.add(minval, lax.convert_element_type(offset, dtype))


# --- permutations and choices -------------------------------------------------------
def _check_arraylike(name, x):
    if not isinstance(x, (Array, np.ndarray, np.generic, bool, int, float, complex)):
        raise TypeError(f'{name} requires ndarray or scalar arguments, got {type(x)} at '
                        'position 0.')


def _shuffle(data, x, axis):
    """Sort by fresh random 32-bit keys, enough rounds that ties are unlikely (JAX's rule)."""
    n = aval_of(x).size
    rounds = int(np.ceil(3 * np.log(max(1, n)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        data, sub = _key_rows(data)
        sort_keys = random_bits(sub, 32, aval_of(x).shape)
        _, x = lax.sort_key_val(sort_keys, x, axis)
    return x


def permutation(key, x, axis=0, independent=False):
    """A shuffled arange(x) (int x), or x shuffled along `axis`."""
    data, _ = check_key('permutation', key)
    _check_arraylike('permutation', x)
    nd = np.ndim(x) if not isinstance(x, Array) else x.ndim
    axis = normalize_axis(int(axis), nd or 1, 'permutation')
    if not nd:
        dt = aval_of(x).dtype
        if not dtypes.is_int(dt):
            raise TypeError('x must be an integer or at least 1-dimensional')
        return _shuffle(data, jnp.arange(int(x)), axis)
    x = jnp.asarray(x)
    if independent or x.ndim == 1:
        return _shuffle(data, x, axis)
    ind = _shuffle(data, jnp.arange(x.shape[axis]), 0)
    return jnp.take(x, ind, axis, unique_indices=True)


def choice(key, a, shape=(), replace=True, p=None, axis=0, mode=None):
    """Samples from a (or arange(a)), with or without replacement, optionally weighted."""
    data, _ = check_key('choice', key)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f'shape argument of jax.random.choice must be a sequence, got {shape}')
    shape = canonical_shape(shape)
    _check_arraylike('choice', a)
    arr = jnp.asarray(a)
    if arr.ndim == 0:
        n_inputs = int(a)
    else:
        axis = normalize_axis(int(axis), arr.ndim, 'choice')
        n_inputs = arr.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return jnp.zeros(shape, dtype=arr.dtype)
    if n_inputs <= 0:
        raise ValueError('a must be greater than 0 unless no samples are taken')
    if not replace and n_draws > n_inputs:
        raise ValueError(f'Cannot take a larger sample (size {n_draws}) than population '
                         f"(size {n_inputs}) when 'replace=False'")
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n_inputs)
            result = ind if arr.ndim == 0 else jnp.take(arr, ind, axis)
        else:
            perm = permutation(key, n_inputs if arr.ndim == 0 else arr, axis)
            result = lax.slice_in_dim(perm, 0, n_draws, 1, axis)
    else:
        _check_arraylike('choice', p)
        (p_arr,) = promote_inexact(p)
        if p_arr.shape != (n_inputs,):
            raise ValueError('p must be None or a 1D vector with the same size as '
                             f'a.shape[axis]. p has shape {p_arr.shape} and a.shape[axis] is '
                             f'{n_inputs}.')
        if replace:
            p_cuml = jnp.cumsum(p_arr)
            r = p_cuml[-1] * (1 - uniform(key, shape, dtype=p_cuml.dtype))
            ind = jnp.searchsorted(p_cuml, r).astype(dtypes.default_int())
        else:
            # Gumbel top-k: the k largest of log p + Gumbel noise are a sample without
            # replacement.
            g = gumbel(key, (n_inputs,), dtype=p_arr.dtype, mode=mode) + jnp.log(p_arr)
            ind = lax.top_k(g, n_draws)[1].astype(dtypes.default_int())
        result = ind if arr.ndim == 0 else jnp.take(arr, ind, axis)
    out_shape = shape if arr.ndim == 0 else arr.shape[:axis] + shape + arr.shape[axis + 1:]
    return result.reshape(out_shape)


@takes_out_sharding
def categorical(key, logits, axis=-1, shape=None, replace=True, mode=None):
    """Indices drawn with probabilities softmax(logits, axis) (the Gumbel-max trick)."""
    data, _ = check_key('categorical', key)
    _check_arraylike('categorical', logits)
    logits = jnp.asarray(logits)
    axis = int(axis)
    batch_shape = tuple(np.delete(logits.shape, axis))
    if shape is None:
        shape = batch_shape
    else:
        shape = canonical_shape(shape)
        _check_shape('categorical', shape, batch_shape)
    prefix = shape[:len(shape) - len(batch_shape)]
    if replace:
        if axis >= 0:
            axis -= logits.ndim
        logits_shape = list(shape[len(shape) - len(batch_shape):])
        logits_shape.insert(axis % logits.ndim, logits.shape[axis])
        g = gumbel(key, (*prefix, *logits_shape), logits.dtype, mode=mode)
        return jnp.argmax(g + lax.expand_dims(logits, tuple(range(len(prefix)))), axis=axis)
    logits = logits + gumbel(key, logits.shape, logits.dtype, mode=mode)
    k = math.prod(prefix)
    if k > logits.shape[axis]:
        raise ValueError(f'Number of samples without replacement ({k}) cannot exceed number '
                         f'of categories ({logits.shape[axis]}).')
    _, indices = lax.top_k(jnp.moveaxis(logits, axis, -1), k)
    dims = (indices.ndim - 1, *range(indices.ndim - 1))
    return lax.reshape(indices, shape, dims)
