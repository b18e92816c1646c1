"""Student's t distribution (jax.scipy.stats.t)."""
import math

from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = promote_inexact(x, df, loc, scale)
    z = (x - loc) / scale
    norm = (special.gammaln((df + 1) / 2) - special.gammaln(df / 2)
            - 0.5 * jnp.log(df * math.pi) - jnp.log(scale))
    return norm - (df + 1) / 2 * jnp.log1p(z * z / df)


def pdf(x, df, loc=0, scale=1):
    return jnp.exp(logpdf(x, df, loc, scale))
