"""More of jax.random's distributions, built on the samplers in samplers.py.

Each follows JAX's construction (the same key splits, the same uniform/normal draws and
the same float operations), so where those samplers are bit-exact with JAX these are too:
the transforms of uniforms and normals, and the gamma family, whose Marsaglia-Tsang
rejection loop runs per element on keys split from the one key, as JAX does. Gamma
samples have no derivative with respect to the shape parameter here (JAX's implicit
reparameterisation is not implemented); poisson and binomial are not provided.
"""
import math

import numpy as np

from tinyjax import dtypes, lax
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.random.keys import canonical_shape, check_key, split_data
from tinyjax.random.samplers import (
    _check_shape, _const, _float_dtype, _key_rows, _param, bernoulli, exponential, normal,
    uniform)
from tinyjax.transforms.batching import vmap


def _data(name, key):
    return check_key(name, key)[0]


def _shape_of(name, shape, *params):
    """shape, or the parameters' broadcast shape when shape is None (JAX's rule)."""
    if shape is None:
        return tuple(np.broadcast_shapes(*[np.shape(p) for p in params]))
    shape = canonical_shape(shape)
    _check_shape(name, shape, *[np.shape(p) for p in params])
    return shape


def laplace(key, shape=(), dtype=None):
    dtype = _float_dtype('laplace', dtype)
    lo = -1.0 + float(dtypes.finfo(dtype).epsneg)
    u = uniform(_data('laplace', key), canonical_shape(shape), dtype, lo, 1.0)
    return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


def logistic(key, shape=(), dtype=None):
    dtype = _float_dtype('logistic', dtype)
    u = uniform(_data('logistic', key), canonical_shape(shape), dtype,
                float(dtypes.finfo(dtype).tiny), 1.0)
    return lax.sub(lax.log(u), lax.log1p(lax.neg(u)))


def cauchy(key, shape=(), dtype=None):
    dtype = _float_dtype('cauchy', dtype)
    u = uniform(_data('cauchy', key), canonical_shape(shape), dtype,
                float(dtypes.finfo(dtype).eps), 1.0)
    return jnp.tan(lax.mul(_const(np.pi, dtype), lax.sub(u, _const(0.5, dtype))))


def rademacher(key, shape=(), dtype=None):
    """+1 or -1 with equal probability (integers by default)."""
    dtype = dtypes.default_int() if dtype is None else dtypes.canonicalize(np.dtype(dtype))
    b = bernoulli(_data('rademacher', key), 0.5, canonical_shape(shape)).astype(dtype)
    return (2 * b - 1).astype(dtype)


def lognormal(key, sigma=np.float32(1), shape=None, dtype=None):
    dtype = _float_dtype('lognormal', dtype)
    shape = _shape_of('lognormal', shape, sigma)
    return lax.exp(normal(_data('lognormal', key), shape, dtype) * _param(sigma, dtype))


def rayleigh(key, scale, shape=None, dtype=None):
    dtype = _float_dtype('rayleigh', dtype)
    shape = _shape_of('rayleigh', shape, scale)
    u = uniform(_data('rayleigh', key), shape, dtype)
    scale = jnp.broadcast_to(_param(scale, dtype), shape)
    return lax.mul(scale, lax.sqrt(lax.mul(lax.log(u), _const(-2, dtype))))


def maxwell(key, shape=(), dtype=None):
    dtype = _float_dtype('maxwell', dtype)
    z = normal(_data('maxwell', key), canonical_shape(shape) + (3,), dtype)
    return jnp.linalg.norm(z, axis=-1)


def double_sided_maxwell(key, loc, scale, shape=(), dtype=None):
    dtype = _float_dtype('double_sided_maxwell', dtype)
    params = tuple(np.broadcast_shapes(np.shape(loc), np.shape(scale)))
    shape = (canonical_shape(shape) or params) + params
    k_maxwell, k_sign = _key_rows(_data('double_sided_maxwell', key))
    return rademacher(k_sign, shape, dtype) * maxwell(k_maxwell, shape, dtype) * scale + loc


def pareto(key, b, shape=None, dtype=None):
    dtype = _float_dtype('pareto', dtype)
    shape = _shape_of('pareto', shape, b)
    return lax.exp(exponential(_data('pareto', key), shape, dtype) / _param(b, dtype))


def weibull_min(key, scale, concentration, shape=(), dtype=None):
    dtype = _float_dtype('weibull_min', dtype)
    u = uniform(_data('weibull_min', key), canonical_shape(shape), dtype, 0, 1)
    return jnp.power(-jnp.log1p(-u), 1.0 / concentration) * scale


def triangular(key, left, mode, right, shape=None, dtype=None):
    dtype = _float_dtype('triangular', dtype)
    shape = _shape_of('triangular', shape, left, mode, right)
    left, mode, right = (jnp.broadcast_to(_param(v, dtype), shape) for v in (left, mode, right))
    fc = (mode - left) / (right - left)
    u = uniform(_data('triangular', key), shape, dtype)
    below = left + lax.sqrt(u * (right - left) * (mode - left))
    above = right - lax.sqrt((1 - u) * (right - left) * (right - mode))
    return lax.select(u < fc, below, above)


def wald(key, mean, shape=None, dtype=None):
    dtype = _float_dtype('wald', dtype)
    shape = _shape_of('wald', shape, mean)
    k1, k2 = _key_rows(_data('wald', key))
    mean = jnp.broadcast_to(_param(mean, dtype), shape)
    v = normal(k1, shape, dtype)
    z = uniform(k2, shape, dtype)
    y = lax.integer_pow(v, 2)
    mean_sq = lax.integer_pow(mean, 2)
    root = lax.sqrt(4 * mean * y + mean_sq * lax.integer_pow(y, 2))
    x = mean + mean_sq * y / 2 - mean / 2 * root
    return lax.select(lax.le(z, mean / (mean + x)), x, mean_sq / x)


def geometric(key, p, shape=None, dtype=None):
    """Trials up to the first success, each succeeding with probability p (>= 1)."""
    dtype = dtypes.default_int() if dtype is None else dtypes.canonicalize(np.dtype(dtype))
    if not dtypes.is_int(dtype):
        raise ValueError(f'dtype argument to `geometric` must be an int dtype, got {dtype}')
    shape = _shape_of('geometric', shape, p)
    (p,) = promote_inexact(p)
    u = uniform(_data('geometric', key), shape, p.dtype)
    u = jnp.where(u == 0, _const(1, p.dtype), u)
    log_q = jnp.broadcast_to(lax.log1p(-p), shape)
    return (lax.floor(lax.div(lax.log(u), log_q)) + 1).astype(dtype)


def orthogonal(key, n, shape=(), dtype=None, m=None):
    """Haar-distributed matrices with orthonormal columns (rows when n < m), shape (..., n, m)."""
    dtype = _float_dtype('orthogonal', dtype)
    m = n if m is None else m
    n, m = int(n), int(m)
    z = normal(_data('orthogonal', key), canonical_shape(shape) + (max(n, m), min(n, m)), dtype)
    q, r = jnp.linalg.qr(z)
    x = q * jnp.expand_dims(jnp.sign(jnp.diagonal(r, axis1=-2, axis2=-1)), -2)
    return jnp.swapaxes(x, -1, -2) if n < m else x


def multivariate_normal(key, mean, cov, shape=None, dtype=None, method='cholesky'):
    if method not in ('svd', 'eigh', 'cholesky'):
        raise ValueError("method must be one of {'svd', 'eigh', 'cholesky'}")
    dtype = _float_dtype('multivariate_normal', dtype)
    mean, cov = _param(mean, dtype), _param(cov, dtype)
    if mean.ndim < 1:
        raise ValueError(f'multivariate_normal requires mean.ndim >= 1, got mean.ndim == {mean.ndim}')
    if cov.ndim < 2:
        raise ValueError(f'multivariate_normal requires cov.ndim >= 2, got cov.ndim == {cov.ndim}')
    n = mean.shape[-1]
    if cov.shape[-2:] != (n, n):
        raise ValueError(f'multivariate_normal requires cov.shape == (..., n, n) for n={n}, '
                         f'but got cov.shape == {cov.shape}.')
    if shape is None:
        shape = tuple(np.broadcast_shapes(mean.shape[:-1], cov.shape[:-2]))
    else:
        shape = canonical_shape(shape)
        _check_shape('normal', shape, mean.shape[:-1], cov.shape[:-2])
    if method == 'svd':
        u, s, _ = jnp.linalg.svd(cov)
        factor = u * jnp.sqrt(s[..., None, :])
    elif method == 'eigh':
        w, v = jnp.linalg.eigh(cov)
        factor = v * jnp.sqrt(w[..., None, :])
    else:
        factor = jnp.linalg.cholesky(cov)
    z = normal(_data('multivariate_normal', key), shape + (n,), dtype)
    return mean + jnp.einsum('...ij,...j->...i', factor, z)


# --- the gamma family ---------------------------------------------------------------
def _gamma_one(key, alpha, log_space):
    """One Gamma(alpha) sample (its log when log_space) by Marsaglia and Tsang's method;
    alpha < 1 samples Gamma(alpha + 1) and scales by U^(1/alpha)."""
    dt = alpha.dtype

    def c(v):
        return _const(v, dt)
    boost = lax.ge(alpha, c(1))
    alpha_orig = alpha
    alpha = lax.select(boost, alpha, lax.add(alpha, c(1)))
    d = lax.sub(alpha, c(1 / 3))
    cc = lax.div(c(1 / 3), lax.sqrt(d))

    def rejected(state):
        _, X, V, U = state
        squeeze = lax.ge(U, lax.sub(c(1), lax.mul(c(0.0331), lax.mul(X, X))))
        full = lax.ge(lax.log(U), lax.add(lax.mul(X, c(0.5)),
                                          lax.mul(d, lax.add(lax.sub(c(1), V), lax.log(V)))))
        return lax.bitwise_and(squeeze, full)

    def propose(state):
        def next_x(kxv):
            k, sub = _key_rows(kxv[0])
            x = normal(sub, (), dt)
            return k, x, lax.add(c(1), lax.mul(x, cc))
        keys = split_data(state[0], (3,))
        k, x_key, u_key = keys[0], keys[1], keys[2]
        _, x, v = lax.while_loop(lambda kxv: lax.le(kxv[2], c(0)), next_x, (x_key, c(0), c(-1)))
        return k, lax.mul(x, x), lax.mul(lax.mul(v, v), v), uniform(u_key, (), dt)

    key, sub = _key_rows(key)
    V = lax.while_loop(rejected, propose, (key, c(0), c(1), c(2)))[2]
    if log_space:
        log_u = lax.neg(exponential(sub, (), dt))
        log_boost = lax.select(boost | (log_u == 0), c(0), lax.mul(log_u, lax.div(c(1), alpha_orig)))
        return lax.add(lax.add(lax.log(d), lax.log(V)), log_boost)
    u = 1 - uniform(sub, (), dt)
    return lax.mul(lax.mul(d, V), lax.select(boost, c(1), lax.pow(u, lax.div(c(1), alpha_orig))))


def _gamma(name, key, a, shape, dtype, log_space):
    dtype = _float_dtype(name, dtype)
    data = _data(name, key)
    shape = _shape_of(name, shape, a)
    a = jnp.broadcast_to(_param(a, dtype), shape)
    size = math.prod(shape)
    keys = split_data(data, (size,))
    flat = vmap(lambda k, x: _gamma_one(k, x, log_space))(keys, a.reshape(size))
    return flat.reshape(shape)


def gamma(key, a, shape=None, dtype=None):
    return _gamma('gamma', key, a, shape, dtype, False)


def loggamma(key, a, shape=None, dtype=None):
    return _gamma('loggamma', key, a, shape, dtype, True)


def beta(key, a, b, shape=None, dtype=None):
    dtype = _float_dtype('beta', dtype)
    shape = _shape_of('beta', shape, a, b)
    k_a, k_b = _key_rows(_data('beta', key))
    log_a = loggamma(k_a, jnp.broadcast_to(_param(a, dtype), shape), shape, dtype)
    log_b = loggamma(k_b, jnp.broadcast_to(_param(b, dtype), shape), shape, dtype)
    top = lax.max(log_a, log_b)
    ga, gb = jnp.exp(log_a - top), jnp.exp(log_b - top)
    return ga / (ga + gb)


def dirichlet(key, alpha, shape=None, dtype=None):
    from tinyjax.nn import softmax
    dtype = _float_dtype('dirichlet', dtype)
    if np.ndim(alpha) < 1:
        raise ValueError(f'dirichlet requires alpha.ndim >= 1, got alpha.ndim == {np.ndim(alpha)}')
    if shape is None:
        shape = np.shape(alpha)[:-1]
    else:
        shape = canonical_shape(shape)
        _check_shape('dirichlet', shape, np.shape(alpha)[:-1])
    alpha = _param(alpha, dtype)
    return softmax(loggamma(key, alpha, tuple(shape) + alpha.shape[-1:], dtype), -1)


def chisquare(key, df, shape=None, dtype=None):
    dtype = _float_dtype('chisquare', dtype)
    shape = _shape_of('chisquare', shape, df)
    half = lax.div(_param(df, dtype), _const(2, dtype))
    return lax.mul(jnp.exp(loggamma(key, half, shape, dtype)), _const(2, dtype))


def f(key, dfnum, dfden, shape=None, dtype=None):
    dtype = _float_dtype('f', dtype)
    shape = _shape_of('f', shape, dfnum, dfden)
    dfnum, dfden = _param(dfnum, dtype), _param(dfden, dtype)
    k_den, k_num = _key_rows(_data('f', key))
    num = lax.div(chisquare(k_num, dfnum, shape, dtype), dfnum)
    den = lax.div(chisquare(k_den, dfden, shape, dtype), dfden)
    return lax.div(num, den)


def t(key, df, shape=None, dtype=None):
    dtype = _float_dtype('t', dtype)
    shape = _shape_of('t', shape, df)
    df = _param(df, dtype)
    k_n, k_g = _key_rows(_data('t', key))
    n = normal(k_n, shape, dtype)
    half = lax.div(df, _const(2, dtype))
    return n * jnp.sqrt(half / gamma(k_g, half, shape, dtype))
