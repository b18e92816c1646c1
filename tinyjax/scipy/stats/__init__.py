"""tinyjax.scipy.stats: JAX's distributions, each a module of functions (norm.logpdf,
gamma.cdf, ...) built from jnp and tinyjax.scipy.special, so they differentiate, batch
and jit like any other composition."""
from tinyjax.scipy.stats import (  # noqa: F401
    bernoulli, beta, betabinom, binom, cauchy, chi2, dirichlet, expon, gamma, gennorm, geom,
    gumbel_l, gumbel_r, laplace, logistic, multinomial, multivariate_normal, nbinom, norm,
    pareto, poisson, t, truncnorm, uniform, vonmises, wrapcauchy)
from tinyjax.scipy.stats.descriptive import ModeResult, mode, rankdata, sem  # noqa: F401
from tinyjax.scipy.stats.kde import gaussian_kde  # noqa: F401
