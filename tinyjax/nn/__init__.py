"""tinyjax.nn: activations and the numerically careful softmax family, matching jax.nn."""
import math

import numpy as np

from tinyjax import dtypes, lax
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import asarray, promote_inexact
from tinyjax.transforms.custom import custom_jvp


def _c(x, v):
    return asarray(np.asarray(v, x.dtype))


@custom_jvp
def relu(x):
    return jnp.maximum(x, 0)


@relu.defjvp
def _relu_jvp(primals, tangents):
    # JAX's convention: the derivative at 0 is 0.
    (x,), (t,) = primals, tangents
    return relu(x), lax.select(x > 0, t, jnp.zeros_like(t))


@custom_jvp
def relu6(x):
    return jnp.minimum(jnp.maximum(x, 0), 6.0)


@relu6.defjvp
def _relu6_jvp(primals, tangents):
    # As in JAX, the derivative is 0 at both kinks (not the 1/2 a min/max tie gives).
    (x,), (t,) = primals, tangents
    return relu6(x), lax.select((x > 0) & (x < 6), t, jnp.zeros_like(t))


def sigmoid(x):
    (x,) = promote_inexact(x)
    return lax.logistic(x)


def log_sigmoid(x):
    return -softplus(-asarray(x))


def softplus(x):
    (x,) = promote_inexact(x)
    return jnp.logaddexp(x, _c(x, 0))


def silu(x):
    (x,) = promote_inexact(x)
    return x * lax.logistic(x)


swish = silu


def gelu(x, approximate=True):
    (x,) = promote_inexact(x)
    if approximate:
        c = _c(x, math.sqrt(2 / math.pi))
        return _c(x, 0.5) * x * (_c(x, 1) + jnp.tanh(c * (x + _c(x, 0.044715) * x * x * x)))
    return _c(x, 0.5) * x * (_c(x, 1) + lax.erf(x * _c(x, 1 / math.sqrt(2))))


def elu(x, alpha=1.0):
    (x,) = promote_inexact(x)
    safe = jnp.where(x > 0, _c(x, 0), x)
    return jnp.where(x > 0, x, _c(x, alpha) * jnp.expm1(safe))


def celu(x, alpha=1.0):
    (x,) = promote_inexact(x)
    return jnp.maximum(x, 0.0) + _c(x, alpha) * jnp.expm1(jnp.minimum(x, 0.0) / alpha)


def selu(x):
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    x = asarray(x)
    return elu(x, alpha) * scale


def leaky_relu(x, negative_slope=0.01):
    (x,) = promote_inexact(x)
    return jnp.where(x >= 0, x, _c(x, negative_slope) * x)


def hard_tanh(x):
    # Selects rather than clips: the dtype stays (ints too) and the slope at +-1 is 1.
    x = asarray(x)
    return jnp.where(x > 1, 1, jnp.where(x < -1, -1, x))


def hard_sigmoid(x):
    return relu6(asarray(x) + 3.0) / 6.0


def hard_silu(x):
    x = asarray(x)
    return x * hard_sigmoid(x)


def _reduce_max_stopped(x, axis, finite_only=False):
    # The max only shifts for stability; its gradient would cancel exactly. Over an empty
    # axis it is -inf (no element to shift by), so softmax and logsumexp of nothing are
    # an empty result and -inf, as in JAX.
    m = jnp.max(x, axis=axis, keepdims=True, initial=-np.inf)
    if finite_only:
        m = jnp.where(jnp.isfinite(m), m, _c(m, 0))
    return lax.stop_gradient(m)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    (a,) = promote_inexact(a)
    if b is not None:
        a, b = promote_inexact(a, b)
        a = jnp.where(b != 0, a, _c(a, -np.inf))
    if where is not None:
        a = jnp.where(where, a, _c(a, -np.inf))
    axes = tuple(range(a.ndim)) if axis is None else ((axis,) if np.ndim(axis) == 0 else tuple(axis))
    m = _reduce_max_stopped(a, axes, finite_only=True)
    e = jnp.exp(a - m)
    if b is not None:
        e = e * b
    s = jnp.sum(e, axis=axes, keepdims=True)
    sign = jnp.sign(s)
    out = jnp.log(jnp.abs(s)) + m
    if not keepdims:
        out = jnp.squeeze(out, axes)
        sign = jnp.squeeze(sign, axes)
    if return_sign:
        return out, sign
    if b is not None:
        out = jnp.where(sign < 0, _c(out, np.nan), out)
    return out


def log_softmax(x, axis=-1, where=None):
    (x,) = promote_inexact(x)
    if where is not None:
        x = jnp.where(where, x, _c(x, -np.inf))
    shifted = x - _reduce_max_stopped(x, axis)
    out = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))
    return out if where is None else jnp.where(where, out, _c(out, -np.inf))


def softmax(x, axis=-1, where=None):
    (x,) = promote_inexact(x)
    if where is not None:
        x = jnp.where(where, x, _c(x, -np.inf))
    e = jnp.exp(x - _reduce_max_stopped(x, axis))
    if where is not None:
        e = jnp.where(where, e, _c(e, 0))
    return e / jnp.sum(e, axis=axis, keepdims=True)


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None):
    (x,) = promote_inexact(x)
    if mean is None:
        mean = jnp.mean(x, axis=axis, keepdims=True, where=where)
    if variance is None:
        variance = jnp.mean(jnp.square(x), axis=axis, keepdims=True, where=where) - jnp.square(mean)
    return (x - mean) * lax.rsqrt(variance + _c(x, epsilon))


normalize = standardize


def one_hot(x, num_classes, *, dtype=None, axis=-1):
    x = asarray(x)
    dt = dtypes.canonicalize(np.dtype(dtype)) if dtype is not None else dtypes.default_float()
    nd = x.ndim + 1
    ax = axis % nd
    shape = x.shape[:ax] + (int(num_classes),) + x.shape[ax:]
    classes = lax.broadcasted_iota(x.dtype if dtypes.is_int(x.dtype) else dtypes.int32, shape, ax)
    xb = lax.broadcast_in_dim(x if dtypes.is_int(x.dtype) else x.astype(jnp.int32), shape,
                              tuple(i for i in range(nd) if i != ax))
    return lax.convert_element_type(lax.eq(xb, classes), dt)


def glu(x, axis=-1):
    a, b = jnp.split(asarray(x), 2, axis=axis)
    return a * sigmoid(b)


def identity(x):
    return asarray(x)


tanh = jnp.tanh
hard_swish = hard_silu


def mish(x):
    (x,) = promote_inexact(x)
    return x * jnp.tanh(softplus(x))


def squareplus(x, b=4):
    x, b = promote_inexact(x, b)
    return (x + jnp.sqrt(jnp.square(x) + b)) / 2


def soft_sign(x):
    (x,) = promote_inexact(x)
    return x / (jnp.abs(x) + 1)


def sparse_plus(x):
    x = asarray(x)
    return jnp.where(x <= -1.0, 0.0, jnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4))


def sparse_sigmoid(x):
    return 0.5 * jnp.clip(asarray(x) + 1.0, 0.0, 2.0)


def log1mexp(x):
    """log(1 - exp(-x)), switching form at log 2 where each is accurate."""
    (x,) = promote_inexact(x)
    return jnp.where(x > _c(x, math.log(2)), jnp.log1p(-jnp.exp(-x)), jnp.log(-jnp.expm1(-x)))


def logmeanexp(x, axis=None, where=None, keepdims=False):
    (x,) = promote_inexact(x)
    lse = logsumexp(x, axis=axis, where=where, keepdims=keepdims)
    if where is None:
        axes = range(x.ndim) if axis is None else ((axis,) if np.ndim(axis) == 0 else axis)
        count = _c(lse, math.prod(x.shape[a] for a in axes))
    else:
        count = jnp.sum(jnp.broadcast_to(where, x.shape), axis=axis, keepdims=keepdims, dtype=lse.dtype)
    return lse - jnp.log(count)

from tinyjax.nn import initializers  # noqa: E402,F401
from tinyjax.nn.attention import dot_product_attention  # noqa: E402,F401
