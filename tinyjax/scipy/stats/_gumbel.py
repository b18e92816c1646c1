"""The Gumbel distributions for maxima (gumbel_r) and minima (gumbel_l): one mirrors
the other, z -> -z, with cdf and sf swapped."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact


def _z(x, loc, scale, sign):
    x, loc, scale = promote_inexact(x, loc, scale)
    return sign * (x - loc) / scale, scale


def _valid(scale, value):
    return jnp.where(scale > 0, value, jnp.nan)


def _log1mexp(t):
    """log(1 - exp(-t)) for t > 0, accurate at both ends."""
    return jnp.where(t < 0.6931471805599453, jnp.log(-jnp.expm1(-t)), jnp.log1p(-jnp.exp(-t)))


def family(sign):
    """The module functions of the Gumbel distribution with z = sign * (x - loc) / scale
    (sign 1: gumbel_r, whose cdf is exp(-exp(-z)); sign -1: gumbel_l)."""
    def logpdf(x, loc=0, scale=1):
        z, scale = _z(x, loc, scale, sign)
        return _valid(scale, -jnp.log(scale) - z - jnp.exp(-z))

    def log_lower(x, loc, scale):        # log P(Z <= z): the cdf of gumbel_r
        z, scale = _z(x, loc, scale, sign)
        return _valid(scale, -jnp.exp(-z))

    def log_upper(x, loc, scale):        # log P(Z > z)
        z, scale = _z(x, loc, scale, sign)
        return _valid(scale, _log1mexp(jnp.exp(-z)))

    def ppf(q, loc=0, scale=1):
        q, loc, scale = promote_inexact(q, loc, scale)
        # gumbel_r: loc - scale log(-log q); gumbel_l mirrors q -> 1 - q and the sign.
        p = q if sign > 0 else 1 - q
        value = loc - sign * scale * jnp.log(-jnp.log(p))
        return jnp.where((q > 0) & (q < 1), value, jnp.nan)

    lower, upper = (log_lower, log_upper) if sign > 0 else (log_upper, log_lower)
    return dict(
        logpdf=logpdf, pdf=lambda x, loc=0, scale=1: jnp.exp(logpdf(x, loc, scale)),
        logcdf=lambda x, loc=0, scale=1: lower(x, loc, scale),
        cdf=lambda x, loc=0, scale=1: jnp.exp(lower(x, loc, scale)),
        logsf=lambda x, loc=0, scale=1: upper(x, loc, scale),
        sf=lambda x, loc=0, scale=1: jnp.exp(upper(x, loc, scale)), ppf=ppf)
