"""erf_inv for float32 exactly as XLA evaluates it (chlo.erf_inv's float32 expansion).

tinyjax.lax.erf_inv rounds the true inverse; XLA evaluates M. Giles' single-precision
polynomial in float32 ("Approximating the erfinv function", GPU Computing Gems, 2010),
which is a few ulps away. jax.random.normal goes through the latter, so we do too:
the same operations in the same order, built from lax primitives so it traces, vmaps
and fuses like everything else.
"""
import numpy as np

from tinyjax import lax

_F32 = np.float32
# Horner coefficients, highest degree first, for w < 5 (in w - 2.5) and w >= 5
# (in sqrt(w) - 3).
_SMALL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
          -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_LARGE = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
          -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def erf_inv_f32(x):
    """erf_inv of a float32 array; +-1 map to +-inf, |x| > 1 to nan."""
    w = lax.neg(lax.log1p(lax.mul(x, lax.neg(x))))
    small = lax.lt(w, _F32(5.0))
    w = lax.select(small, lax.sub(w, _F32(2.5)), lax.sub(lax.sqrt(w), _F32(3.0)))
    # 0-d coefficient cases: select_n broadcasts them against the predicate.
    p = lax.select(small, _F32(_SMALL[0]), _F32(_LARGE[0]))
    for cs, cl in zip(_SMALL[1:], _LARGE[1:]):
        p = lax.add(lax.select(small, _F32(cs), _F32(cl)), lax.mul(p, w))
    result = lax.mul(p, x)
    at_one = lax.eq(lax.abs(x), _F32(1.0))
    return lax.select(at_one, lax.mul(x, _F32(np.inf)), result)

