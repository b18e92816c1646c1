"""Modified Bessel functions of the first kind, orders 0 and 1 (jax.scipy.special's i0,
i0e, i1, i1e), as compositions of jnp, so grad, vmap and jit see through them.

Below |x| = 30 the power series sum_k (x/2)^(2k+v) / (k! (k+v)!) (its terms peak near
k = |x|/2 and are below 1e-17 of the sum after 80 of them); above, the asymptotic series
e^x / sqrt(2 pi x) * sum_k (-1)^k a_k(v) / x^k, whose 12th term is below 1e-13 there.
Each branch is fed only inputs on its own side of 30, so the other adds no inf or NaN
to a value or a gradient. The e-scaled forms are the series times e^-|x| (no overflow:
the asymptotic branch never forms e^x); their derivatives are JAX's rules (custom JVPs,
which fix the values at the kink x = 0), and i0, i1 are e^|x| times them, as in JAX."""
import math

from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.transforms.custom import custom_jvp

_SWITCH = 30.0
_SERIES_TERMS = 80
_ASYMPTOTIC_TERMS = 12


def _series(ax, order):
    """sum_k (ax/2)^(2k+order) / (k! (k+order)!) for 0 <= ax <= _SWITCH."""
    q = (ax / 2) ** 2
    term = jnp.ones_like(ax) if order == 0 else ax / 2
    total = term
    for k in range(1, _SERIES_TERMS):
        term = term * q / (k * (k + order))
        total = total + term
    return total


def _asymptotic(ax, order):
    """sqrt(2 pi ax) e^-ax I_order(ax) for ax >= _SWITCH."""
    mu = 4.0 * order * order
    term = jnp.ones_like(ax)
    total = term
    for k in range(1, _ASYMPTOTIC_TERMS):
        term = -term * (mu - (2 * k - 1) ** 2) / (k * 8 * ax)
        total = total + term
    return total


def _scaled(x, order):
    """e^-|x| I_order(|x|) (for order 1 the caller restores the sign)."""
    ax = jnp.abs(x)
    near = ax < _SWITCH
    small = jnp.where(near, ax, 0)            # each branch sees only its own side
    large = jnp.where(near, _SWITCH, ax)
    return jnp.where(near, _series(small, order) * jnp.exp(-small),
                     _asymptotic(large, order) / jnp.sqrt(2 * math.pi * large))


@custom_jvp
def _i0e(x):
    return _scaled(x, 0)


@_i0e.defjvp
def _i0e_jvp(primals, tangents):
    # d/dx e^-|x| I0(x) = e^-|x| (I1(x) - sign(x) I0(x)), as JAX states it (0 at x = 0).
    (x,), (t,) = primals, tangents
    out = _i0e(x)
    return out, (_i1e(x) - jnp.sign(x) * out) * t


@custom_jvp
def _i1e(x):
    return jnp.sign(x) * _scaled(x, 1)


@_i1e.defjvp
def _i1e_jvp(primals, tangents):
    # d/dx e^-|x| I1(x) = e^-|x| I0(x) - (sign(x) + 1/x) e^-|x| I1(x); 1/2 at x = 0.
    (x,), (t,) = primals, tangents
    out = _i1e(x)
    safe = jnp.where(x == 0, 1, x)
    slope = jnp.where(x == 0, 0.5, _i0e(x) - out * (jnp.sign(x) + 1 / safe))
    return out, slope * t


def i0e(x):
    """e^-|x| I0(x)."""
    return _i0e(*promote_inexact(x))


def i1e(x):
    """e^-|x| I1(x) (odd in x)."""
    return _i1e(*promote_inexact(x))


def i0(x):
    """I0(x) = e^|x| i0e(x) (inf past |x| ~ 89 in float32, as e^|x| is)."""
    (x,) = promote_inexact(x)
    return jnp.exp(jnp.abs(x)) * _i0e(x)


def i1(x):
    (x,) = promote_inexact(x)
    return jnp.exp(jnp.abs(x)) * _i1e(x)
