"""Special-function primitives that C's math library provides (lgamma, erfc), as rows of
the elementwise table: the CUDA and host kernels call libm, NumPy gets the same values
from Python's math module element by element (CuPy from cupyx.scipy.special).

Functions built from these and other primitives (digamma, the incomplete gamma and beta
functions, ndtr, ...) live in tinyjax.scipy.special, where autodiff sees through them.
"""
import math

import numpy as np

from tinyjax.ops import elementwise as ew


def _libm(name):
    fn = getattr(math, name)

    def impl(xp, x):
        if xp is not np:
            import cupyx.scipy.special as sp  # lazy: CuPy is optional, only present with a GPU
            return getattr(sp, {'lgamma': 'gammaln'}.get(name, name))(x)
        # math.lgamma raises at poles where C returns inf: map those by hand.
        def one(v):
            try:
                return fn(v)
            except (ValueError, OverflowError):
                return math.inf
        return np.asarray(np.frompyfunc(one, 1, 1)(x), dtype=x.dtype).reshape(np.shape(x))
    return impl


def digamma(x):
    """psi(x) = d lgamma / dx, composed from primitives (so its own derivatives come from
    autodiff): reflection psi(x) = psi(1 - x) - pi / tan(pi x) below 1/2, the recurrence
    psi(x) = psi(x + 6) - sum 1/(x + k) to reach the asymptotic series, accurate to
    ~1e-12 relative there. Poles (0, -1, ...) give NaN, as in JAX."""
    c = lambda v: ew._c(x, v)   # noqa: E731
    reflect = ew.lt(x, c(0.5))
    z = ew.select_n(reflect, x, ew.sub(c(1), x))
    shift = c(0)
    for k in range(6):
        shift = ew.add(shift, ew.div(c(1), ew.add(z, c(k))))
    w = ew.add(z, c(6))
    inv2 = ew.div(c(1), ew.mul(w, w))
    series = c(-1 / 132)
    for coef in (1 / 240, -1 / 252, 1 / 120, -1 / 12):
        series = ew.add(c(coef), ew.mul(inv2, series))
    psi = ew.sub(ew.add(ew.log(w), ew.mul(series, inv2)), ew.div(c(0.5), w))
    psi = ew.sub(psi, shift)
    pole = ew.bitwise_and(ew.le(x, c(0)), ew.eq(x, ew.floor(x)))
    cot = ew.div(c(math.pi), ew.tan(ew.mul(c(math.pi), x)))
    out = ew.select_n(reflect, psi, ew.sub(psi, cot))
    return ew.select_n(pole, out, c(math.nan))


def _lgamma_jvp(x, y, t):
    return ew.mul(t, digamma(x))


def _erfc_jvp(x, y, t):
    return ew.mul(t, ew.mul(ew._c(x, -2 / math.sqrt(math.pi)), ew.exp(ew.neg(ew.mul(x, x)))))


lgamma_p = ew._def('lgamma', 1, _libm('lgamma'), 'lgamma({0})', ew.FLOAT, _lgamma_jvp)
erfc_p = ew._def('erfc', 1, _libm('erfc'), 'erfc({0})', ew.FLOAT, _erfc_jvp)
ew.PRIMS.update(lgamma=lgamma_p, erfc=erfc_p)


def lgamma(x):
    return lgamma_p.bind(x)


def erfc(x):
    return erfc_p.bind(x)
