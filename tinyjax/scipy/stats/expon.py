"""The exponential distribution (jax.scipy.stats.expon): rate 1/scale from loc on."""
from tinyjax import numpy as jnp
from tinyjax.scipy.stats._support import standardize


def logpdf(x, loc=0, scale=1):
    z, log_scale, x, loc, _ = standardize(x, loc, scale)
    return jnp.where(x < loc, -jnp.inf, -z - log_scale)


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def logsf(x, loc=0, scale=1):
    z, _, x, loc, _ = standardize(x, loc, scale)
    return jnp.where(x < loc, 0, -z)


def sf(x, loc=0, scale=1):
    return jnp.exp(logsf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    z, _, x, loc, _ = standardize(x, loc, scale)
    return jnp.where(x < loc, 0, -jnp.expm1(-z))


def logcdf(x, loc=0, scale=1):
    return jnp.log1p(-sf(x, loc, scale))


def ppf(q, loc=0, scale=1):
    z, _, q, loc, scale = standardize(q, loc, scale)
    return jnp.where(jnp.isnan(q) | (q < 0) | (q > 1), jnp.nan, loc - scale * jnp.log1p(-q))
