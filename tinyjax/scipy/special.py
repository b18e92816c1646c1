"""tinyjax.scipy.special: JAX's special functions. lgamma and erfc are primitives
(ops/special.py, libm underneath); the rest are compositions of primitives, so grad, vmap
and jit see through them. Where autodiff of the composition would be wrong or wasteful
at a kink or a removable singularity, a custom JVP states the derivative JAX uses."""
import math

import numpy as np

from tinyjax import lax
from tinyjax import numpy as jnp
from tinyjax.nn import logsumexp  # noqa: F401
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.ops import special as _prims
from tinyjax.scipy.bessel import i0, i0e, i1, i1e  # noqa: F401
from tinyjax.scipy.incomplete import gammainc, gammaincc, betainc  # noqa: F401
from tinyjax.transforms.custom import custom_jvp

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def erf(x):
    (x,) = promote_inexact(x)
    return lax.erf(x)


def erfc(x):
    (x,) = promote_inexact(x)
    return _prims.erfc(x)


def erfinv(x):
    (x,) = promote_inexact(x)
    return lax.erf_inv(x)


def expit(x):
    (x,) = promote_inexact(x)
    return lax.logistic(x)


def logit(x):
    (x,) = promote_inexact(x)
    return jnp.log(x / (1 - x))


def gammaln(x):
    (x,) = promote_inexact(x)
    return _prims.lgamma(x)


def gamma(x):
    """Gamma(x) with its sign: exp(lgamma) times -1 on the negative intervals where
    Gamma is negative (floor(x) odd)."""
    (x,) = promote_inexact(x)
    sign = jnp.where((x < 0) & (jnp.floor(x) % 2 != 0), -1.0, 1.0).astype(x.dtype)
    return sign * jnp.exp(_prims.lgamma(x))


def digamma(x):
    (x,) = promote_inexact(x)
    return _prims.digamma(x)


def betaln(a, b):
    a, b = promote_inexact(a, b)
    return _prims.lgamma(a) + _prims.lgamma(b) - _prims.lgamma(a + b)


def beta(a, b):
    return jnp.exp(betaln(a, b))


def multigammaln(a, d):
    """log of the multivariate gamma function of dimension d (a Python int)."""
    (a,) = promote_inexact(a)
    d = int(d)
    js = jnp.arange(d, dtype=a.dtype)
    const = d * (d - 1) / 4 * math.log(math.pi)
    return jnp.sum(_prims.lgamma(jnp.expand_dims(a, -1) - js / 2), axis=-1) + const


def _x_times_log(log_fn, at_x0, dlog, name, doc):
    """x * log_fn(y), 0 wherever x == 0 (y is then replaced by at_x0, where log_fn is
    finite), with JAX's derivative: log_fn(y) dx + x dlog(y) dy."""
    @custom_jvp
    def f(x, y):
        x, y = promote_inexact(x, y)
        safe_y = jnp.where(x == 0, jnp.full_like(y, at_x0), y)
        return jnp.where(x == 0, jnp.zeros_like(x * y), x * log_fn(safe_y))

    @f.defjvp
    def _jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        out = f(x, y)
        return out, (tx * log_fn(y) + ty * x * dlog(y)).astype(out.dtype)
    f.__name__, f.__doc__ = name, doc
    return f


xlogy = _x_times_log(jnp.log, 1.0, lambda y: 1 / y, 'xlogy',
                     'x * log(y), and 0 where x == 0 (even where y == 0).')
xlog1py = _x_times_log(jnp.log1p, 0.0, lambda y: 1 / (1 + y), 'xlog1py',
                       'x * log1p(y), and 0 where x == 0 (even where y == -1).')


def entr(x):
    """-x log x for x > 0, 0 at 0, -inf below."""
    (x,) = promote_inexact(x)
    return jnp.where(x < 0, -jnp.inf, -xlogy(x, x))


def ndtr(x):
    """The standard normal CDF. erfc keeps the lower tail accurate (1 + erf cancels)."""
    (x,) = promote_inexact(x)
    z = x / _SQRT2
    # erfc(-z) for z < 1/sqrt2 covers the lower tail; 1 - erfc(z)/2 the upper.
    return jnp.where(z < -0.5 * _SQRT2, 0.5 * erfc(-z),
                     jnp.where(z < 0.5 * _SQRT2, 0.5 + 0.5 * lax.erf(z), 1 - 0.5 * erfc(z)))


def log_ndtr(x, series_order=3):
    """log(ndtr(x)) without underflow: the asymptotic series of Mills' ratio below the
    point where ndtr underflows (-20 in float64, -10 in float32), log1p(-ndtr(-x)) above 0
    (log(ndtr) would round 1 - tiny to 1), log(ndtr(x)) between."""
    (x,) = promote_inexact(x)
    if not isinstance(series_order, int) or not 0 <= series_order <= 30:
        raise ValueError(f'log_ndtr: series_order must be an int in [0, 30], got {series_order!r}')
    lower = -20.0 if x.dtype == np.float64 else -10.0
    # Each branch sees inputs where it is finite, so the unused one adds no NaN gradient.
    mid = jnp.where((x >= lower) & (x <= 0), x, -1.0)
    top = jnp.where(x > 0, x, 1.0)
    tail = jnp.where(x < lower, x, lower)
    x2 = tail * tail
    series, term = jnp.ones_like(tail), jnp.ones_like(tail)
    for n in range(1, series_order + 1):
        term = term * -(2 * n - 1) / x2
        series = series + term
    asymptotic = -0.5 * x2 - jnp.log(-tail) - _LOG_SQRT_2PI + jnp.log(series)
    return jnp.where(x < lower, asymptotic,
                     jnp.where(x > 0, jnp.log1p(-ndtr(-top)), jnp.log(ndtr(mid))))


@custom_jvp
def ndtri(p):
    """The inverse of ndtr: sqrt2 erfinv(2p - 1) in the body; in the tails, where 2p - 1
    has lost p's digits, an asymptotic start refined by Newton steps on log_ndtr."""
    (p,) = promote_inexact(p)
    central = _SQRT2 * lax.erf_inv(2 * p - 1)
    q = jnp.where(p < 0.5, p, 1 - p)              # the tail probability, <= 1/2
    q_safe = jnp.clip(q, np.finfo(p.dtype).tiny, 0.5)
    t = -2 * jnp.log(q_safe)
    z = -jnp.sqrt(t - jnp.log(t) - math.log(2 * math.pi))   # lower-tail start
    log_q = jnp.log(q_safe)
    for _ in range(4):
        ln = log_ndtr(z)
        z = z - (ln - log_q) * jnp.exp(ln + 0.5 * z * z + _LOG_SQRT_2PI)
    tail = jnp.where(p < 0.5, z, -z)
    out = jnp.where((q > 0.02), central, tail)
    out = jnp.where(p == 0, -jnp.inf, jnp.where(p == 1, jnp.inf, out))
    return jnp.where((p < 0) | (p > 1), jnp.nan, out)


@ndtri.defjvp
def _ndtri_jvp(primals, tangents):
    (p,), (t,) = primals, tangents
    z = ndtri(p)
    # dz/dp = 1 / pdf(z)
    return z, t * jnp.exp(0.5 * z * z + _LOG_SQRT_2PI).astype(z.dtype)
