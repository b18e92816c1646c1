"""The Dirichlet distribution over the simplex (jax.scipy.stats.dirichlet)."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def logpdf(x, alpha):
    """x has shape (K,) or (K, ...) (points along the trailing axes); alpha has shape
    (K,). A point off the simplex has -inf, as in JAX."""
    x, alpha = promote_inexact(x, alpha)
    if alpha.ndim != 1:
        raise ValueError(f'dirichlet.logpdf: alpha must be one-dimensional, got shape {alpha.shape}')
    if x.ndim == 0 or x.shape[0] not in (alpha.shape[0], alpha.shape[0] - 1):
        raise ValueError(f'dirichlet.logpdf: x has shape {x.shape}; its first axis must have '
                         f'length {alpha.shape[0]} (or {alpha.shape[0] - 1}, the last '
                         'component then being 1 - sum(x)), matching alpha')
    if x.shape[0] == alpha.shape[0] - 1:
        x = jnp.concatenate([x, 1 - jnp.sum(x, axis=0, keepdims=True)], axis=0)
    a = alpha.reshape(alpha.shape + (1,) * (x.ndim - 1))
    norm = jnp.sum(special.gammaln(alpha)) - special.gammaln(jnp.sum(alpha))
    value = jnp.sum(special.xlogy(a - 1, x), axis=0) - norm
    # JAX's test for a point on the simplex: positive parts summing to 1 within 1e-6.
    simplex = jnp.all(x > 0, axis=0) & (jnp.abs(jnp.sum(x, axis=0) - 1) < 1e-6)
    return jnp.where(simplex, value, -jnp.inf)


def pdf(x, alpha):
    return jnp.exp(logpdf(x, alpha))
