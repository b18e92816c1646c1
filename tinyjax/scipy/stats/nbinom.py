"""The negative binomial distribution: failures before the n-th success
(jax.scipy.stats.nbinom)."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote_inexact(k, n, p, loc)
    y = k - loc
    choose = special.gammaln(y + n) - special.gammaln(n) - special.gammaln(y + 1)
    value = choose + special.xlogy(n, p) + special.xlogy(y, 1 - p)
    return jnp.where(y < 0, -jnp.inf, value)


def pmf(k, n, p, loc=0):
    return jnp.exp(logpmf(k, n, p, loc))
