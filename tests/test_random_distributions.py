"""Moments of the distributions in tinyjax.random.distributions over many samples (the
recorded comparison with JAX is in test_api_gaps_recorded.py)."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp

KEY = jax.random.PRNGKey(11)
N = 4000


@pytest.mark.parametrize('name, sample, mean, var', [
    ('laplace', lambda k: jax.random.laplace(k, (N,)), 0.0, 2.0),
    ('logistic', lambda k: jax.random.logistic(k, (N,)), 0.0, np.pi ** 2 / 3),
    ('rademacher', lambda k: jax.random.rademacher(k, (N,)), 0.0, 1.0),
    ('rayleigh', lambda k: jax.random.rayleigh(k, 2.0, (N,)), 2.0 * np.sqrt(np.pi / 2), (4 - np.pi) / 2 * 4),
    ('maxwell', lambda k: jax.random.maxwell(k, (N,)), 2 * np.sqrt(2 / np.pi), 3 - 8 / np.pi),
    ('pareto', lambda k: jax.random.pareto(k, 5.0, (N,)), 5 / 4, 5 / (16 * 3)),
    ('triangular', lambda k: jax.random.triangular(k, 0.0, 0.3, 1.0, (N,)), 1.3 / 3, (1 + 0.09 - 0.3) / 18),
    ('wald', lambda k: jax.random.wald(k, 1.5, (N,)), 1.5, 1.5 ** 3),
    ('geometric', lambda k: jax.random.geometric(k, 0.25, (N,)), 4.0, 0.75 / 0.0625),
    ('gamma', lambda k: jax.random.gamma(k, 2.5, (N,)), 2.5, 2.5),
    ('gamma_small', lambda k: jax.random.gamma(k, 0.4, (N,)), 0.4, 0.4),
    ('beta', lambda k: jax.random.beta(k, 2.0, 3.0, (N,)), 0.4, 6 / (25 * 6)),
    ('chisquare', lambda k: jax.random.chisquare(k, 3.0, (N,)), 3.0, 6.0),
    ('t', lambda k: jax.random.t(k, 6.0, (N,)), 0.0, 1.5),
    ('lognormal', lambda k: jax.random.lognormal(k, 0.5, (N,)), np.exp(0.125), (np.exp(0.25) - 1) * np.exp(0.25)),
])
def test_moments(name, sample, mean, var):
    x = np.asarray(sample(KEY), np.float64)
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / N)
    assert abs(x.var() / var - 1) < 0.15


def test_orthogonal_and_dirichlet_and_mvn():
    q = np.asarray(jax.random.orthogonal(KEY, 5, (3,)))
    np.testing.assert_allclose(q @ np.swapaxes(q, -1, -2), np.broadcast_to(np.eye(5), (3, 5, 5)), atol=1e-5)
    d = np.asarray(jax.random.dirichlet(KEY, jnp.array([1.0, 2.0, 3.0]), (N,)))
    np.testing.assert_allclose(d.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(d.mean(0), [1 / 6, 2 / 6, 3 / 6], atol=0.02)
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    z = np.asarray(jax.random.multivariate_normal(KEY, jnp.array([1.0, -1.0]), cov, (N,)))
    np.testing.assert_allclose(z.mean(0), [1.0, -1.0], atol=0.1)
    np.testing.assert_allclose(np.cov(z.T), cov, atol=0.15)


def test_jit_equals_eager():
    f = jax.jit(lambda k: (jax.random.beta(k, 0.5, 2.0, (5,)), jax.random.weibull_min(k, 1.0, 2.0, (5,))))
    for a, b in zip(f(KEY), (jax.random.beta(KEY, 0.5, 2.0, (5,)), jax.random.weibull_min(KEY, 1.0, 2.0, (5,)))):
        np.testing.assert_allclose(a, b, rtol=1e-6)
