"""jnp functions whose derivative JAX defines by a rule of its own where differentiating
the formula would give another answer: at a tie of logaddexp (0.5 each, where the max
in the formula would give 1 and 0) and at sinc's removable singularity (every order).
"""
import numpy as np

from tinyjax import lax
from tinyjax.numpy.conversion import asarray, broadcast_all, promote_inexact
from tinyjax.transforms.custom import custom_jvp


def _const(x, v):
    return asarray(np.asarray(v, x.dtype))


def _finite_or_zero(x):
    """x with +inf replaced by 0, so exp(x - out) stays defined when both are +inf."""
    return lax.select(lax.eq(x, _const(x, np.inf)), _const(x, 0), x)


def _log_add_exp_rule(exp_fn, log1p_scale):
    """logaddexp (base e) or logaddexp2 (base 2) on two same-typed arrays, with JAX's
    derivative: each input's weight is base**(x_i - out), so a tie splits it evenly."""
    @custom_jvp
    def f(x, y):
        delta = lax.sub(x, y)
        smooth = lax.log1p(exp_fn(lax.neg(lax.abs(delta))))
        if log1p_scale != 1:
            smooth = lax.mul(_const(smooth, log1p_scale), smooth)
        # delta is NaN for a NaN input or infinities of one sign: x + y is the answer.
        return lax.select(lax.ne(delta, delta), lax.add(x, y),
                          lax.add(lax.max(x, y), smooth))

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        out = f(x, y)
        out_f = _finite_or_zero(out)
        wx = exp_fn(lax.sub(_finite_or_zero(x), out_f))
        wy = exp_fn(lax.sub(_finite_or_zero(y), out_f))
        return out, lax.add(lax.mul(tx, wx), lax.mul(ty, wy))
    return f


_logaddexp = _log_add_exp_rule(lax.exp, 1)
_logaddexp2 = _log_add_exp_rule(lax.exp2, 1 / np.log(2))


def logaddexp(x1, x2):
    return _logaddexp(*broadcast_all(*promote_inexact(x1, x2), op='logaddexp',
                                     keep_scalars=False))


def logaddexp2(x1, x2):
    return _logaddexp2(*broadcast_all(*promote_inexact(x1, x2), op='logaddexp2',
                                      keep_scalars=False))


def _sinc_at_zero(k, x):
    """The k-th derivative of sin(t)/t at t = 0, shaped like x (x * 0 keeps the tracer)."""
    coef = 0.0 if k % 2 else (-1) ** (k // 2) / (k + 1)
    return lax.add(lax.mul(x, _const(x, 0)), _const(x, coef))


_sinc_at_zero = custom_jvp(_sinc_at_zero, nondiff_argnums=(0,))


@_sinc_at_zero.defjvp
def _sinc_at_zero_jvp(k, primals, tangents):
    (x,), (t,) = primals, tangents
    return _sinc_at_zero(k, x), lax.mul(_sinc_at_zero(k + 1, x), t)


def sinc(x):
    (x,) = promote_inexact(x)
    pix = lax.mul(x, _const(x, np.pi))
    is_zero = lax.eq(x, _const(x, 0))
    safe = lax.select(is_zero, _const(x, 1), pix)
    # At 0 a Taylor term per derivative order, so grad(grad(sinc))(0.) = -pi**2 / 3.
    return lax.select(is_zero, _sinc_at_zero(0, pix), lax.div(lax.sin(safe), safe))
