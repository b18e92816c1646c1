"""The beta-binomial distribution (jax.scipy.stats.betabinom): a binomial whose success
probability is Beta(a, b)."""
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import special


def logpmf(k, n, a, b, loc=0):
    k, n, a, b, loc = promote_inexact(k, n, a, b, loc)
    y = jnp.floor(k) - loc
    # log C(n, y) = -log(n + 1) - log B(n - y + 1, y + 1)
    log_choose = -jnp.log1p(n) - special.betaln(n - y + 1, y + 1)
    value = log_choose + special.betaln(y + a, n - y + b) - special.betaln(a, b)
    value = jnp.where((y == 0) & (n == 0), 0, value)
    value = jnp.where((y < -loc) | (y > n) | (y + a <= 0), -jnp.inf, value)
    return jnp.where((n < 0) | (a <= 0) | (b <= 0), jnp.nan, value)


def pmf(k, n, a, b, loc=0):
    return jnp.exp(logpmf(k, n, a, b, loc))
