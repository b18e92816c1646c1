"""The Laplace distribution (jax.scipy.stats.laplace)."""
import math

from tinyjax import numpy as jnp
from tinyjax.scipy.stats._support import standardize


def logpdf(x, loc=0, scale=1):
    z, log_scale, *_ = standardize(x, loc, scale)
    return -math.log(2.0) - log_scale - jnp.abs(z)


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    z = standardize(x, loc, scale)[0]
    half = 0.5 * jnp.exp(-jnp.abs(z))
    return jnp.where(z <= 0, half, 1 - half)
