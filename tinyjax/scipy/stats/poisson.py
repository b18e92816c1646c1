"""The Poisson distribution (jax.scipy.stats.poisson)."""
import math

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


def entropy(mu, loc=0):
    """-sum_k p(k) log p(k), summed over k < mu + 10 sqrt(mu) + 20 (which holds all but a
    negligible tail) for mu < 100, and from the asymptotic series
    log(2 pi e mu) / 2 - 1 / (12 mu) above, as JAX does. loc does not change it; 0 at
    mu == 0 and nan for mu < 0."""
    mu, loc = promote_inexact(mu, loc)
    shape = jnp.broadcast_shapes(mu.shape, loc.shape)
    small = jnp.where((mu > 0) & (mu < 100), mu, 1)[..., None]
    k = jnp.arange(_MAX_K, dtype=mu.dtype)
    terms = special.entr(jnp.where(k < jnp.ceil(small + 10 * jnp.sqrt(small) + 20),
                                   pmf(k, small), 0))
    summed = jnp.sum(terms, axis=-1)
    large = jnp.where(mu >= 100, mu, 100)
    series = 0.5 * jnp.log(2 * math.pi * math.e * large) - 1 / (12 * large)
    value = jnp.where(mu < 100, summed, series)
    value = jnp.where(mu == 0, 0, jnp.where(mu < 0, jnp.nan, value))
    return jnp.broadcast_to(value, shape)


# For mu < 100 the bound mu + 10 sqrt(mu) + 20 stays below 220.
_MAX_K = 220
