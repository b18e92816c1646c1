"""What the distributions share: promotion of (x, parameters) to one inexact dtype, and
masking outside a support."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact


def standardize(x, loc, scale):
    """(z, log(scale), x, loc, scale) with all four promoted to one inexact dtype."""
    x, loc, scale = promote_inexact(x, loc, scale)
    return (x - loc) / scale, jnp.log(scale), x, loc, scale


def where_valid(cond, value, fill):
    """value where cond holds, else fill (a Python number), in value's dtype."""
    return jnp.where(cond, value, jnp.asarray(fill, value.dtype))
