"""The normal distribution truncated to [a, b] in standard units
(jax.scipy.stats.truncnorm). Every probability is a Gaussian mass between two points,
taken in log space on the side of zero where the tails are accurate."""
import math

from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _log_mass(lo, hi):
    """log(Phi(hi) - Phi(lo)) for lo <= hi: from the right tail when both are positive,
    from the left when both are negative, and as 1 minus both tails across zero."""
    right = lo > 0
    left = hi < 0
    # Both tails: mirror the right-tail case into the left one (Phi(-x) = 1 - Phi(x)).
    p, q = jnp.where(right, -hi, lo), jnp.where(right, -lo, hi)   # p <= q <= 0 if a tail
    lp, lq = special.log_ndtr(p), special.log_ndtr(q)
    tail = lq + jnp.log1p(-jnp.exp(lp - lq))
    middle = jnp.log1p(-special.ndtr(lo) - special.ndtr(-hi))
    return jnp.where(right | left, tail, middle)


def _standard(x, a, b, loc, scale):
    x, a, b, loc, scale = promote_inexact(x, a, b, loc, scale)
    return (x - loc) / scale, a, b, scale


def logpdf(x, a, b, loc=0, scale=1):
    z, a, b, scale = _standard(x, a, b, loc, scale)
    value = -0.5 * z * z - _LOG_SQRT_2PI - _log_mass(a, b) - jnp.log(scale)
    return jnp.where((z < a) | (z > b), -jnp.inf, value)


def pdf(x, a, b, loc=0, scale=1):
    return jnp.exp(logpdf(x, a, b, loc, scale))


def _log_both(x, a, b, loc, scale):
    """(z, log cdf, log sf) inside [a, b]: each directly where it is at most 1/2, else as
    log1p(-exp(the other)), so a value near 1 keeps its digits (no difference of two
    nearly equal log masses)."""
    z, a, b, _ = _standard(x, a, b, loc, scale)
    inside = jnp.clip(z, a, b)
    total = _log_mass(a, b)
    lower, upper = _log_mass(a, inside) - total, _log_mass(inside, b) - total
    half = math.log(0.5)
    return (z, a, b, jnp.where(upper < half, jnp.log1p(-jnp.exp(upper)), lower),
            jnp.where(lower < half, jnp.log1p(-jnp.exp(lower)), upper))


def logcdf(x, a, b, loc=0, scale=1):
    z, a, b, value, _ = _log_both(x, a, b, loc, scale)
    return jnp.where(z < a, -jnp.inf, jnp.where(z > b, 0, value))


def cdf(x, a, b, loc=0, scale=1):
    return jnp.exp(logcdf(x, a, b, loc, scale))


def logsf(x, a, b, loc=0, scale=1):
    z, a, b, _, value = _log_both(x, a, b, loc, scale)
    return jnp.where(z < a, 0, jnp.where(z > b, -jnp.inf, value))


def sf(x, a, b, loc=0, scale=1):
    return jnp.exp(logsf(x, a, b, loc, scale))
