"""The logistic distribution (jax.scipy.stats.logistic)."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special
from tinyjax.scipy.stats._support import standardize


def logpdf(x, loc=0, scale=1):
    z, log_scale, *_ = standardize(x, loc, scale)
    # log(e^-z / (1 + e^-z)^2) = -|z| - 2 log1p(e^-|z|): symmetric, so no overflow.
    a = jnp.abs(z)
    return -a - 2 * jnp.log1p(jnp.exp(-a)) - log_scale


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    return special.expit(standardize(x, loc, scale)[0])


def sf(x, loc=0, scale=1):
    return special.expit(-standardize(x, loc, scale)[0])


def ppf(x, loc=0, scale=1):
    x, loc, scale = promote_inexact(x, loc, scale)
    return loc + scale * special.logit(x)


def isf(x, loc=0, scale=1):
    x, loc, scale = promote_inexact(x, loc, scale)
    return loc - scale * special.logit(x)
