"""jnp.vectorize (which optax uses): loop dimensions broadcast, gufunc signatures,
excluded arguments, multiple outputs, JAX's error classes; expected values are what
JAX 0.10.2 gives on the same calls."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp

A = jnp.arange(6.).reshape(2, 3)
B = jnp.arange(3.) + 1
dot = jnp.vectorize(jnp.dot, signature='(n),(n)->()')


def test_signature_and_broadcast_loop_dims():
    np.testing.assert_array_equal(dot(A, B), [8., 26.])
    np.testing.assert_array_equal(jnp.vectorize(lambda x, y: x * 2 + y)(A, B),
                                  [[1., 4., 7.], [7., 10., 13.]])
    m, v = jnp.arange(24.).reshape(2, 1, 3, 4), jnp.arange(8.).reshape(2, 4)
    out = jnp.vectorize(jnp.matmul, signature='(m,k),(k)->(m)')(m, v)
    assert out.shape == (2, 2, 3) and float(out.sum()) == 1992.0
    np.testing.assert_allclose(out, np.einsum('abmk,bk->abm', np.asarray(m), np.asarray(v)))


def test_excluded_and_multiple_outputs():
    power = jnp.vectorize(lambda x, p: x ** p, excluded={1})
    np.testing.assert_array_equal(power(A, 2), [[0., 1., 4.], [9., 16., 25.]])
    s, mx = jnp.vectorize(lambda x: (x.sum(), x.max()), signature='(n)->(),()')(A)
    np.testing.assert_array_equal(s, [3., 12.])
    np.testing.assert_array_equal(mx, [2., 5.])


def test_under_grad_and_jit():
    np.testing.assert_array_equal(jax.grad(lambda x: dot(x, B).sum())(A), [[1., 2., 3.]] * 2)
    np.testing.assert_array_equal(jax.jit(jnp.vectorize(lambda x, y: x * 2 + y))(A, B),
                                  [[1., 4., 7.], [7., 10., 13.]])


def test_errors():
    with pytest.raises(ValueError, match="inconsistent size for core dimension 'n'"):
        dot(A, jnp.ones(4))
    with pytest.raises(TypeError, match='wrong number of positional arguments: expected 2, got 1'):
        dot(A)
    with pytest.raises(ValueError, match=r'output shape \(3,\) does not match'):
        jnp.vectorize(lambda x: x, signature='(n)->()')(A)
    with pytest.raises(ValueError, match='does not have enough dimensions'):
        jnp.vectorize(jnp.sum, signature='(n)->()')(3.0)
    with pytest.raises(TypeError, match='can only exclude integer or string'):
        jnp.vectorize(jnp.sum, excluded={1.5})
