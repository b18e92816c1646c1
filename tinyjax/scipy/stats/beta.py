"""The beta distribution with shapes a, b (jax.scipy.stats.beta)."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def _z(x, a, b, loc, scale):
    x, a, b, loc, scale = promote_inexact(x, a, b, loc, scale)
    return (x - loc) / scale, a, b, scale


def logpdf(x, a, b, loc=0, scale=1):
    z, a, b, scale = _z(x, a, b, loc, scale)
    inside = (z >= 0) & (z <= 1)
    z_ok = jnp.where(inside, z, 0.5)
    value = (special.xlogy(a - 1, z_ok) + special.xlog1py(b - 1, -z_ok)
             - special.betaln(a, b) - jnp.log(scale))
    return jnp.where(inside, value, -jnp.inf)


def pdf(x, a, b, loc=0, scale=1):
    return jnp.exp(logpdf(x, a, b, loc, scale))


def cdf(x, a, b, loc=0, scale=1):
    z, a, b, _ = _z(x, a, b, loc, scale)
    return special.betainc(a, b, jnp.clip(z, 0, 1))


def logcdf(x, a, b, loc=0, scale=1):
    return jnp.log(cdf(x, a, b, loc, scale))


def sf(x, a, b, loc=0, scale=1):
    # I_{1-z}(b, a) rather than 1 - I_z(a, b), so the upper tail keeps its digits.
    z, a, b, _ = _z(x, a, b, loc, scale)
    return special.betainc(b, a, 1 - jnp.clip(z, 0, 1))


def logsf(x, a, b, loc=0, scale=1):
    return jnp.log(sf(x, a, b, loc, scale))
