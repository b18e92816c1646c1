"""The multinomial distribution over counts x (last axis) of n draws
(jax.scipy.stats.multinomial)."""
from tinyjax import dtypes
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def logpmf(x, n, p):
    (p,) = promote_inexact(p)
    x, n = jnp.asarray(x), jnp.asarray(n)
    if not (dtypes.is_int(x.dtype) and dtypes.is_int(n.dtype)):
        raise ValueError(f'multinomial.logpmf: x and n must be of integer type; got '
                         f'x.dtype={x.dtype}, n.dtype={n.dtype}. Counts are integers: '
                         'pass x.astype(jnp.int32).')
    x, n = x.astype(p.dtype), n.astype(p.dtype)
    value = special.gammaln(n + 1) + jnp.sum(special.xlogy(x, p) - special.gammaln(x + 1), axis=-1)
    # As in JAX, the counts must add up to n over the whole array.
    return jnp.where(jnp.sum(x) == n, value, -jnp.inf)


def pmf(x, n, p):
    return jnp.exp(logpmf(x, n, p))
