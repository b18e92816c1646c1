"""jax.nn.initializers: functions (key, shape, dtype) -> array for network weights.

The variance-scaling family draws from tinyjax.random with JAX's arithmetic (a float
array of the target dtype holds the variance; truncated normals divide by the
standard deviation of a unit normal truncated to [-2, 2]), so results match JAX's bit
for bit wherever the underlying sampler does.
"""
import functools
import math

from tinyjax import dtypes
from tinyjax import numpy as jnp
from tinyjax import random
from tinyjax.numpy.conversion import _dtype_of
from tinyjax.ops.layout import laid_out
from tinyjax.random.keys import canonical_shape

# Standard deviation of a standard normal truncated to (-2, 2).
_TRUNC_STD = .87962566103423978


def _out_sharding(init):
    """init with JAX's fourth argument, out_sharding: the result laid out by it."""
    @functools.wraps(init)
    def wrapper(key, shape, dtype=None, out_sharding=None):
        return laid_out(init(key, shape) if dtype is None else init(key, shape, dtype),
                        out_sharding)
    return wrapper


def _dtype(dtype):
    return dtypes.default_float() if dtype is None else dtypes.canonicalize(_dtype_of(dtype))


def zeros(key, shape, dtype=None, out_sharding=None):
    """All zeros; the key is ignored."""
    return laid_out(jnp.zeros(shape, _dtype(dtype)), out_sharding)


def ones(key, shape, dtype=None, out_sharding=None):
    """All ones; the key is ignored."""
    return laid_out(jnp.ones(shape, _dtype(dtype)), out_sharding)


def constant(value, dtype=None):
    @_out_sharding
    def init(key, shape, dtype=dtype):
        return jnp.full(shape, value, dtype=_dtype(dtype))
    return init


def uniform(scale=1e-2, dtype=None):
    """Uniform in [0, scale)."""
    @_out_sharding
    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype)
        return random.uniform(key, shape, dt) * jnp.array(scale, dt)
    return init


def normal(stddev=1e-2, dtype=None):
    @_out_sharding
    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype)
        return random.normal(key, shape, dt) * jnp.array(stddev, dt)
    return init


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """stddev times a unit normal truncated to (lower, upper) (no variance correction)."""
    @_out_sharding
    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype)
        return random.truncated_normal(key, lower, upper, shape, dt) * jnp.array(stddev, dt)
    return init


def _axes_size(shape, axes):
    if isinstance(axes, int):
        return shape[axes]
    return math.prod(shape[i] for i in axes)


def compute_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out); axes outside in/out/batch are the receptive field."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"Can't compute input and output sizes of a {len(shape)}-dimensional "
                         'weights tensor with default in_axis. Must be at least 2D or specify '
                         'in_axis explicitly.')
    in_size = _axes_size(shape, in_axis)
    out_size = _axes_size(shape, out_axis)
    batch_size = _axes_size(shape, batch_axis)
    receptive = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive, out_size * receptive


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(),
                     dtype=None):
    """Samples with variance scale / n, n = fan_in, fan_out, or their mean or geometric mean."""
    if mode not in ('fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'):
        raise ValueError(f'invalid mode for variance scaling initializer: {mode}')
    if distribution not in ('truncated_normal', 'normal', 'uniform'):
        raise ValueError(f'invalid distribution for variance scaling initializer: '
                         f'{distribution}')

    @_out_sharding
    def init(key, shape, dtype=dtype):
        shape = canonical_shape(shape)
        dt = _dtype(dtype)
        if not dtypes.is_float(dt):
            raise NotImplementedError('variance_scaling for complex dtypes is not '
                                      'implemented in tinyjax')
        fan_in, fan_out = compute_fans(shape, in_axis, out_axis, batch_axis)
        denominator = {'fan_in': fan_in, 'fan_out': fan_out,
                       'fan_avg': (fan_in + fan_out) / 2,
                       'fan_geo_avg': (fan_in * fan_out) ** 0.5}[mode]
        variance = jnp.array(scale / denominator, dtype=dt)
        if distribution == 'truncated_normal':
            stddev = jnp.sqrt(variance) / jnp.array(_TRUNC_STD, dt)
            return random.truncated_normal(key, -2, 2, shape, dt) * stddev
        if distribution == 'normal':
            return random.normal(key, shape, dt) * jnp.sqrt(variance)
        return random.uniform(key, shape, dt, -1) * jnp.sqrt(3 * variance)
    return init


def _family(scale, mode, distribution, doc):
    def make(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
        return variance_scaling(scale, mode, distribution, in_axis=in_axis,
                                out_axis=out_axis, batch_axis=batch_axis, dtype=dtype)
    make.__doc__ = doc
    return make


glorot_uniform = _family(1.0, 'fan_avg', 'uniform', 'Glorot (Xavier) uniform.')
glorot_normal = _family(1.0, 'fan_avg', 'truncated_normal', 'Glorot (Xavier) normal.')
lecun_uniform = _family(1.0, 'fan_in', 'uniform', 'LeCun uniform.')
lecun_normal = _family(1.0, 'fan_in', 'truncated_normal', 'LeCun normal.')
he_uniform = _family(2.0, 'fan_in', 'uniform', 'He (Kaiming) uniform.')
he_normal = _family(2.0, 'fan_in', 'truncated_normal', 'He (Kaiming) normal.')
for _f, _n in ((glorot_uniform, 'glorot_uniform'), (glorot_normal, 'glorot_normal'),
               (lecun_uniform, 'lecun_uniform'), (lecun_normal, 'lecun_normal'),
               (he_uniform, 'he_uniform'), (he_normal, 'he_normal')):
    _f.__name__ = _f.__qualname__ = _n
xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal
del _f, _n
