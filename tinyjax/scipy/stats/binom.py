"""The binomial distribution (jax.scipy.stats.binom)."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote_inexact(k, n, p, loc)
    y = k - loc
    choose = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
    powers = special.xlogy(y, p) + special.xlog1py(n - y, -p)
    # Where the powers are exactly 1 (p of 0 or 1 at the matching end, or n == 0) the
    # log-gamma terms cancel exactly too: keep the 0 rather than their rounding.
    value = jnp.where(((y == 0) & (n == 0)) | (powers == 0), 0, choose + powers)
    return jnp.where((y >= 0) & (y < n + 1), value, -jnp.inf)


def pmf(k, n, p, loc=0):
    return jnp.exp(logpmf(k, n, p, loc))
