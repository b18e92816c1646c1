"""tinyjax.random: JAX's functional PRNG (threefry2x32 keys), bit-exact with JAX."""
from tinyjax.random.keys import (  # noqa: F401
    PRNGKey, key, key_data, wrap_key_data, key_impl, key_dtype, split, fold_in, bits,
    PRNGKeyArray)
from tinyjax.random.samplers import (  # noqa: F401
    uniform, normal, truncated_normal, bernoulli, exponential, gumbel, randint,
    permutation, choice, categorical)
from tinyjax.random.distributions import (  # noqa: F401
    laplace, logistic, cauchy, rademacher, lognormal, rayleigh, maxwell, double_sided_maxwell,
    pareto, weibull_min, triangular, wald, geometric, orthogonal, multivariate_normal, gamma,
    loggamma, beta, dirichlet, chisquare, f, t)
