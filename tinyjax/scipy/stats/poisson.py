"""The Poisson distribution (jax.scipy.stats.poisson)."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def logpmf(k, mu, loc=0):
    k, mu, loc = promote_inexact(k, mu, loc)
    x = k - loc
    x_ok = jnp.where(x >= 0, x, 0)
    value = special.xlogy(x_ok, mu) - special.gammaln(x_ok + 1) - mu
    return jnp.where((x >= 0) & (x == jnp.round(x)), value, -jnp.inf)


def pmf(k, mu, loc=0):
    return jnp.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    k, mu, loc = promote_inexact(k, mu, loc)
    x = jnp.floor(k - loc)
    return jnp.where(x < 0, 0.0, special.gammaincc(jnp.maximum(x, 0) + 1, mu))
