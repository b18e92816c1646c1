"""The wrapped Cauchy distribution on [0, 2 pi] (jax.scipy.stats.wrapcauchy)."""
import math

from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact


def logpdf(x, c):
    x, c = promote_inexact(x, c)
    value = jnp.log1p(-c * c) - math.log(2 * math.pi) - jnp.log(1 + c * c - 2 * c * jnp.cos(x))
    value = jnp.where((x >= 0) & (x <= 2 * math.pi), value, -jnp.inf)
    return jnp.where((c > 0) & (c < 1), value, jnp.nan)


def pdf(x, c):
    return jnp.exp(logpdf(x, c))
