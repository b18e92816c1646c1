"""tinyjax.nn against values recorded from jax.nn 0.10.2."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import nn
from tinyjax.scipy.special import logsumexp

X = [[-3., 0., 0.5, 2.], [1000., -1000., 0., np.inf]]
RECORDED = {
    'relu': [[0.0, 0.0, 0.5, 2.0], [1000.0, 0.0, 0.0, np.inf]],
    'gelu': [[-0.003637343645095825, 0.0, 0.3457140028476715, 1.9545977115631104], [1000.0, -0.0, 0.0, np.inf]],
    'silu': [[-0.14227762818336487, 0.0, 0.3112296760082245, 1.7615940570831299], [1000.0, -0.0, 0.0, np.inf]],
    'sigmoid': [[0.04742587357759476, 0.5, 0.622459352016449, 0.8807970285415649], [1.0, 0.0, 0.5, 1.0]],
    'softplus': [[0.04858735203742981, 0.6931471824645996, 0.9740769863128662, 2.1269280910491943], [1000.0, 0.0, 0.6931471824645996, np.inf]],
    'elu': [[-0.9502129554748535, 0.0, 0.5, 2.0], [1000.0, -1.0, 0.0, np.inf]],
    'leaky_relu': [[-0.029999999329447746, 0.0, 0.5, 2.0], [1000.0, -10.0, 0.0, np.inf]],
    'selu': [[-1.670568823814392, 0.0, 0.5253505110740662, 2.1014020442962646], [1050.7010498046875, -1.7580993175506592, 0.0, np.inf]],
    'softmax': [[0.004935489501804113, 0.09913195669651031, 0.16344097256660461, 0.7324916124343872], [np.nan] * 4],
    'log_softmax': [[-5.311303615570068, -2.3113033771514893, -1.8113033771514893, -0.31130340695381165], [np.nan] * 4],
    'standardize': [[-1.5833828449249268, 0.06884273141622543, 0.34421366453170776, 1.1703264713287354], [np.nan] * 4],
}


@pytest.mark.parametrize('name', sorted(RECORDED))
def test_activations_match_jax(name):
    got = getattr(nn, name)(jnp.asarray(X))
    np.testing.assert_allclose(np.asarray(got), RECORDED[name], rtol=2e-6, atol=1e-6)


def test_gelu_exact_and_logsumexp():
    np.testing.assert_allclose(nn.gelu(jnp.asarray(X), approximate=False),
                               [[-0.0040496960282325745, 0.0, 0.3457312285900116, 1.9544997215270996],
                                [1000.0, -0.0, 0.0, np.inf]], rtol=2e-6, atol=1e-6)
    assert np.isinf(float(nn.logsumexp(jnp.asarray(X))))
    v = jnp.asarray([1.0, 2.0, 1000.0])
    np.testing.assert_allclose(logsumexp(v), 1000.0, rtol=1e-7)
    np.testing.assert_allclose(nn.logsumexp(jnp.asarray([[1.0, 2.0], [3.0, 4.0]]), axis=1),
                               np.log(np.exp([[1, 2], [3, 4]]).sum(1)), rtol=1e-6)


def test_one_hot():
    np.testing.assert_array_equal(nn.one_hot(jnp.asarray([0, 2, 5]), 4),
                                  [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])


def test_stable_gradients_like_jax():
    assert float(jax.grad(nn.relu)(0.0)) == 0.0
    v = jnp.asarray([1.0, 2.0, 1000.0])
    np.testing.assert_allclose(jax.grad(nn.logsumexp)(v), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(jax.grad(lambda v: nn.log_softmax(v)[0])(v), [1.0, 0.0, -1.0])
    g = jax.grad(lambda v: jnp.sum(nn.softmax(v) * jnp.arange(3.0)))(jnp.asarray([0.1, 0.2, 0.3]))
    p = np.exp([0.1, 0.2, 0.3]) / np.exp([0.1, 0.2, 0.3]).sum()
    np.testing.assert_allclose(g, p * (np.arange(3) - (p * np.arange(3)).sum()), rtol=1e-5)
