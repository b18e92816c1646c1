"""The chi-squared distribution with df degrees of freedom (jax.scipy.stats.chi2): a
gamma distribution of shape df / 2 and scale 2."""
import math

from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def _y(x, df, loc, scale):
    x, df, loc, scale = promote_inexact(x, df, loc, scale)
    return (x - loc) / scale, df / 2, scale


def logpdf(x, df, loc=0, scale=1):
    y, half, scale = _y(x, df, loc, scale)
    value = (special.xlogy(half - 1, y) - y / 2 - half * math.log(2.0)
             - special.gammaln(half) - jnp.log(scale))
    return jnp.where(y < 0, -jnp.inf, value)


def pdf(x, df, loc=0, scale=1):
    return jnp.exp(logpdf(x, df, loc, scale))


def cdf(x, df, loc=0, scale=1):
    y, half, _ = _y(x, df, loc, scale)
    return jnp.where(y <= 0, 0, special.gammainc(half, jnp.maximum(y, 0) / 2))


def logcdf(x, df, loc=0, scale=1):
    return jnp.log(cdf(x, df, loc, scale))


def sf(x, df, loc=0, scale=1):
    y, half, _ = _y(x, df, loc, scale)
    return jnp.where(y <= 0, 1, special.gammaincc(half, jnp.maximum(y, 0) / 2))


def logsf(x, df, loc=0, scale=1):
    return jnp.log(sf(x, df, loc, scale))
