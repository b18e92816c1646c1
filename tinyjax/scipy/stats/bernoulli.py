"""The Bernoulli distribution (jax.scipy.stats.bernoulli)."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def logpmf(k, p, loc=0):
    k, p, loc = promote_inexact(k, p, loc)
    k = k - loc
    value = special.xlogy(k, p) + special.xlog1py(1 - k, -p)
    # As in JAX, only k outside [0, 1] is off the support (k = 0.5 interpolates).
    return jnp.where((k < 0) | (k > 1), -jnp.inf, value)


def pmf(k, p, loc=0):
    return jnp.exp(logpmf(k, p, loc))


def cdf(k, p):
    k, p = promote_inexact(k, p)
    out = jnp.where(k < 0, 0.0, jnp.where(k >= 1, 1.0, 1 - p))
    return jnp.where((p < 0) | (p > 1) | jnp.isnan(k), jnp.nan, out)


def ppf(q, p):
    q, p = promote_inexact(q, p)
    out = jnp.where(q <= 1 - p, 0.0, 1.0)
    return jnp.where((q < 0) | (q > 1) | (p < 0) | (p > 1), jnp.nan, out)
