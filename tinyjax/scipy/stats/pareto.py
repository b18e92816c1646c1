"""The Pareto distribution with shape b (jax.scipy.stats.pareto): support x >= loc + scale."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact


def _z(x, b, loc, scale):
    x, b, loc, scale = promote_inexact(x, b, loc, scale)
    return (x - loc) / scale, b, x < loc + scale, scale


def logpdf(x, b, loc=0, scale=1):
    z, b, below, scale = _z(x, b, loc, scale)
    return jnp.where(below, -jnp.inf, jnp.log(b / scale) - (b + 1) * jnp.log(z))


def pdf(x, b, loc=0, scale=1):
    return jnp.exp(logpdf(x, b, loc, scale))


def logsf(x, b, loc=0, scale=1):
    z, b, below, _ = _z(x, b, loc, scale)
    return jnp.where(below, 0, -b * jnp.log(z))


def sf(x, b, loc=0, scale=1):
    return jnp.exp(logsf(x, b, loc, scale))


def cdf(x, b, loc=0, scale=1):
    z, b, below, _ = _z(x, b, loc, scale)
    return jnp.where(below, 0, 1 - z ** -b)


def logcdf(x, b, loc=0, scale=1):
    z, b, below, _ = _z(x, b, loc, scale)
    return jnp.where(below, -jnp.inf, jnp.log1p(-z ** -b))


def ppf(q, b, loc=0, scale=1):
    q, b, loc, scale = promote_inexact(q, b, loc, scale)
    value = loc + scale * (1 - q) ** (-1 / b)
    return jnp.where(jnp.isnan(q) | (q < 0) | (q > 1), jnp.nan, value)
