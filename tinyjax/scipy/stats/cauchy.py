"""The Cauchy distribution (jax.scipy.stats.cauchy)."""
import math

from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy.stats._support import standardize


def logpdf(x, loc=0, scale=1):
    z, log_scale, *_ = standardize(x, loc, scale)
    return -math.log(math.pi) - log_scale - jnp.log1p(z * z)


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    z = standardize(x, loc, scale)[0]
    return 0.5 + jnp.arctan(z) / math.pi


def logcdf(x, loc=0, scale=1):
    return jnp.log(cdf(x, loc, scale))


def sf(x, loc=0, scale=1):
    # sf(x) = cdf(-x) about loc; written so the upper tail keeps its digits.
    z = standardize(x, loc, scale)[0]
    return 0.5 - jnp.arctan(z) / math.pi


def logsf(x, loc=0, scale=1):
    return jnp.log(sf(x, loc, scale))


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote_inexact(q, loc, scale)
    return loc + scale * jnp.tan(math.pi * (q - 0.5))


def isf(q, loc=0, scale=1):
    q, loc, scale = promote_inexact(q, loc, scale)
    return loc + scale * jnp.tan(math.pi * (0.5 - q))
