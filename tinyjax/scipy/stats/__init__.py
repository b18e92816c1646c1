"""tinyjax.scipy.stats: JAX's distributions, each a module of functions (norm.logpdf,
gamma.cdf, ...) built from jnp and tinyjax.scipy.special, so they differentiate, batch
and jit like any other composition."""
from tinyjax.scipy.stats import (  # noqa: F401
    bernoulli, beta, cauchy, dirichlet, gamma, laplace, logistic, multivariate_normal, norm,
    poisson, t, uniform)
