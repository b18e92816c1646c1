"""The geometric distribution on 1, 2, ... (jax.scipy.stats.geom)."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def logpmf(k, p, loc=0):
    k, p, loc = promote_inexact(k, p, loc)
    x = k - loc
    return jnp.where(x <= 0, -jnp.inf, special.xlog1py(x - 1, -p) + jnp.log(p))


def pmf(k, p, loc=0):
    return jnp.exp(logpmf(k, p, loc))
