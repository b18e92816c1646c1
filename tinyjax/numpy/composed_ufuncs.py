"""Elementwise functions composed from the ufuncs: logaddexp2, gcd, lcm, ldexp, modf,
frexp and the bitwise_* aliases and bit count."""

import numpy as np

from tinyjax import dtypes, lax
from tinyjax.numpy import creation, ufuncs
from tinyjax.numpy.conversion import asarray, broadcast_all, promote, promote_inexact
from tinyjax.ops.random_bits import bitcast_convert_type as _bitcast

__all__ = ['logaddexp2', 'gcd', 'lcm', 'ldexp', 'modf', 'frexp', 'bitwise_count',
           'bitwise_invert', 'bitwise_left_shift', 'bitwise_right_shift']


def logaddexp2(x1, x2):
    ln2 = np.log(2)
    return ufuncs.divide(ufuncs.logaddexp(ufuncs.multiply(x1, ln2), ufuncs.multiply(x2, ln2)), ln2)


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
    scale = lax.stop_gradient(ldexp(creation.ones_like(x, dtype=np.float32), -e))
    tangent = ((x - lax.stop_gradient(x)).astype(np.float32) * scale).astype(x.dtype)
    return ufuncs.where(special, x, m + tangent), e


bitwise_invert = ufuncs.invert


bitwise_left_shift = ufuncs.left_shift


bitwise_right_shift = ufuncs.right_shift


def bitwise_count(x, /):
    """Set bits of each integer's absolute value (NumPy's rule), as uint8."""
    return lax.population_count(ufuncs.abs(asarray(x))).astype(np.uint8)
