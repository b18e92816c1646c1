"""The von Mises distribution on the circle with concentration kappa
(jax.scipy.stats.vonmises): density e^(kappa cos x) / (2 pi I0(kappa)), written with
i0e so large kappa does not overflow."""
import math

from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def logpdf(x, kappa):
    x, kappa = promote_inexact(x, kappa)
    value = kappa * (jnp.cos(x) - 1) - jnp.log(2 * math.pi * special.i0e(kappa))
    return jnp.where(kappa > 0, value, jnp.nan)


def pdf(x, kappa):
    return jnp.exp(logpdf(x, kappa))
