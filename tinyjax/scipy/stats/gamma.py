"""The gamma distribution with shape a (jax.scipy.stats.gamma)."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def _z(x, a, loc, scale):
    x, a, loc, scale = promote_inexact(x, a, loc, scale)
    return (x - loc) / scale, a, scale


def logpdf(x, a, loc=0, scale=1):
    z, a, scale = _z(x, a, loc, scale)
    z_ok = jnp.where(z >= 0, z, 1)
    value = special.xlogy(a - 1, z_ok) - z_ok - special.gammaln(a) - jnp.log(scale)
    return jnp.where(z >= 0, value, -jnp.inf)


def pdf(x, a, loc=0, scale=1):
    return jnp.exp(logpdf(x, a, loc, scale))


def cdf(x, a, loc=0, scale=1):
    z, a, _ = _z(x, a, loc, scale)
    return special.gammainc(a, jnp.maximum(z, 0))


def logcdf(x, a, loc=0, scale=1):
    return jnp.log(cdf(x, a, loc, scale))


def sf(x, a, loc=0, scale=1):
    z, a, _ = _z(x, a, loc, scale)
    return special.gammaincc(a, jnp.maximum(z, 0))


def logsf(x, a, loc=0, scale=1):
    return jnp.log(sf(x, a, loc, scale))
