"""The normal distribution (jax.scipy.stats.norm)."""
import math

from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special
from tinyjax.scipy.stats._support import standardize

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def logpdf(x, loc=0, scale=1):
    z, log_scale, *_ = standardize(x, loc, scale)
    return -0.5 * z * z - _LOG_SQRT_2PI - log_scale


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    return special.ndtr(standardize(x, loc, scale)[0])


def logcdf(x, loc=0, scale=1):
    return special.log_ndtr(standardize(x, loc, scale)[0])


def sf(x, loc=0, scale=1):
    return special.ndtr(-standardize(x, loc, scale)[0])


def logsf(x, loc=0, scale=1):
    return special.log_ndtr(-standardize(x, loc, scale)[0])


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote_inexact(q, loc, scale)
    return loc + scale * special.ndtri(q)


def isf(q, loc=0, scale=1):
    q, loc, scale = promote_inexact(q, loc, scale)
    return loc - scale * special.ndtri(q)
