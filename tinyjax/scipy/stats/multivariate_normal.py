"""The multivariate normal distribution (jax.scipy.stats.multivariate_normal)."""
import math

from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import linalg


def logpdf(x, mean, cov, allow_singular=None):
    """x (..., n), mean (..., n), cov (n, n) or a scalar/(...,)-shaped variance for n = 1
    as in JAX; through the Cholesky factor: -0.5 |L^-1 (x - mean)|^2 - sum log diag L."""
    if allow_singular is not None:
        raise NotImplementedError('multivariate_normal.logpdf: allow_singular is not '
                                  'supported (JAX supports only None)')
    x, mean, cov = promote_inexact(x, mean, cov)
    if mean.ndim == 0:
        # One-dimensional: a normal with variance cov.
        y = x - mean
        return -0.5 * (y * y / cov + jnp.log(2 * math.pi * cov))
    if cov.ndim == 0:
        y = x - mean
        n = mean.shape[-1]
        return -0.5 * jnp.sum(y * y, axis=-1) / cov - 0.5 * n * jnp.log(2 * math.pi * cov)
    if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2] or cov.shape[-1] != mean.shape[-1]:
        raise ValueError(f'multivariate_normal.logpdf: cov must have shape (..., n, n) with n '
                         f'= mean.shape[-1] = {mean.shape[-1]}, got cov shape {cov.shape}')
    n = mean.shape[-1]
    factor = linalg.cholesky(cov, lower=True)
    batch = jnp.broadcast_shapes(cov.shape[:-2], x.shape[:-1], mean.shape[:-1])
    diff = jnp.broadcast_to(x - mean, batch + (n,))
    y = linalg.solve_triangular(jnp.broadcast_to(factor, batch + (n, n)), diff, lower=True)
    log_det = jnp.sum(jnp.log(jnp.diagonal(factor, axis1=-2, axis2=-1)), axis=-1)
    return -0.5 * jnp.sum(y * y, axis=-1) - log_det - 0.5 * n * math.log(2 * math.pi)

def pdf(x, mean, cov):
    return jnp.exp(logpdf(x, mean, cov))
