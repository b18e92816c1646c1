"""Numerics and errors where tinyjax differed from JAX 0.10.2; every expected value here
was printed by JAX 0.10.2 on the CPU. Each runs eagerly and under jit."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import errors

I32 = np.array([-2, -1, 0, 1, 2, 7, -7, 2 ** 31 - 1, -2 ** 31], np.int32)


def _both(f, *args):
    return [np.asarray(f(*args)), np.asarray(jax.jit(f)(*args))]


def test_hypot_scales_as_the_c_library():
    x = np.array([1e30, 1e-30, np.inf, np.nan, 0.0, 3.0, -1e30], np.float32)
    y = np.array([1.5, 1e-30, np.nan, np.inf, 0.0, -4.0, 1e30], np.float32)
    want = np.array([1e30, 1.4142136e-30, np.inf, np.inf, 0.0, 5.0, 1.4142135e30], np.float32)
    for got in _both(jnp.hypot, x, y):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert float(jnp.hypot(jnp.float16(60000), jnp.float16(60000))) == np.inf   # JAX: inf
    assert float(jax.grad(jnp.hypot)(3.0, 4.0)) == pytest.approx(0.6)


def test_integer_power_uses_the_exponents_six_low_bits_as_xla():
    neg3 = [0, -1, 0, 1, 0, 1336734823, -1336734823, 2147483647, 0]
    neg2 = [0, 1, 0, 1, 0, 767209169, 767209169, 1, 0]
    for e, want in ((-3, neg3), (-2, neg2)):
        for got in _both(jnp.power, I32, np.full(I32.shape, e, np.int32)):
            np.testing.assert_array_equal(got, want)
    big = jnp.power(np.array([3, 7, -1, 2], np.int32), np.full(4, 100, np.int32))
    np.testing.assert_array_equal(np.asarray(big), [-1953380655, 1729633, 1, 0])
    with pytest.raises(TypeError, match='Integers cannot be raised to negative powers'):
        jnp.asarray(I32) ** -1


def test_integer_division_and_remainder_by_zero_as_jax():
    z = np.zeros_like(I32)
    for got in _both(jnp.floor_divide, I32, z):
        np.testing.assert_array_equal(got, [-2, -2, -1, -2, -2, -2, -2, -2, -2])
    for f in (jnp.remainder, jnp.fmod):
        for got in _both(f, I32, z):
            np.testing.assert_array_equal(got, np.zeros(9))
    for got in _both(jnp.floor_divide, I32, np.full_like(I32, -1)):
        np.testing.assert_array_equal(got, [2, 1, 0, -1, -2, -7, 7, -2147483647, -2147483648])
    u = np.array([0, 1, 5], np.uint32)
    np.testing.assert_array_equal(np.asarray(u // jnp.zeros(3, jnp.uint32)), [4294967295] * 3)
    np.testing.assert_array_equal(np.asarray(jnp.remainder(u, np.zeros(3, np.uint32))), [0, 0, 0])
    # the ordinary cases keep Python's floor semantics
    a, b = np.array([7, -7, 7, -7], np.int32), np.array([2, 2, -2, -2], np.int32)
    np.testing.assert_array_equal(np.asarray(jnp.floor_divide(a, b)), a // b)
    np.testing.assert_array_equal(np.asarray(jnp.remainder(a, b)), a % b)


def test_softmax_and_logsumexp_over_an_empty_axis():
    for f in (jax.nn.softmax, jax.jit(jax.nn.softmax)):
        assert np.asarray(f(jnp.zeros((2, 0)))).shape == (2, 0)
    np.testing.assert_array_equal(np.asarray(jax.nn.logsumexp(jnp.zeros((2, 0)), axis=1)),
                                  [-np.inf, -np.inf])
    assert float(jax.nn.logsumexp(jnp.zeros((0,)))) == -np.inf
    assert float(jax.jit(jax.nn.logsumexp)(jnp.zeros((0,)))) == -np.inf
    assert jax.nn.log_softmax(jnp.zeros((0, 3)), axis=0).shape == (0, 3)
    np.testing.assert_allclose(np.asarray(jax.nn.softmax(jnp.array([1.0, 2.0, 3.0]))),
                               [0.09003057, 0.24472848, 0.66524094], rtol=1e-6)


def test_jit_concatenate_of_empty_arrays():
    out = jax.jit(jnp.concatenate)([jnp.zeros((0, 3)), jnp.zeros((0, 3))])
    assert out.shape == (0, 3)
    f = jax.jit(lambda a, b: (jnp.concatenate([a, a]) * 2, jnp.concatenate([a, b])))
    e, m = f(jnp.zeros((0,)), jnp.ones((2,)))
    assert e.shape == (0,)
    np.testing.assert_array_equal(np.asarray(m), [1.0, 1.0])


def test_grad_of_a_complex_output_raises_type_error():
    with pytest.raises(TypeError, match='real-valued outputs.*complex64.*holomorphic=True'):
        jax.grad(lambda x: x * 1j)(1.0)
    assert complex(jax.grad(lambda z: z * z, holomorphic=True)(jnp.complex64(1 + 1j))) == 2 + 2j


def test_leaked_tracer_raises_unexpected_tracer_error():
    leaked = []

    def f(x):
        leaked.append(x)
        return x
    jax.jit(f)(1.0)
    with pytest.raises(errors.UnexpectedTracerError, match='f32.*finished trace of `f`'):
        leaked[0] + 1
    with pytest.raises(errors.UnexpectedTracerError):
        jnp.sin(leaked[0])


def test_arange_of_a_traced_value_raises_concretization_type_error():
    with pytest.raises(errors.ConcretizationTypeError, match="jnp.arange argument 'stop'"):
        jax.jit(lambda n: jnp.arange(n))(3)
    assert issubclass(errors.ConcretizationTypeError, TypeError)
    np.testing.assert_array_equal(
        np.asarray(jax.jit(lambda n: jnp.arange(n), static_argnums=0)(3)), [0, 1, 2])


@pytest.mark.parametrize('expr, name', [
    (lambda: jnp.ones(3) + jnp.ones(4), 'add'),
    (lambda: jnp.ones((2, 3)) * jnp.ones((3, 2)), 'multiply'),
    (lambda: jnp.maximum(jnp.ones(2), jnp.ones(3)), 'maximum'),
    (lambda: jnp.hypot(jnp.ones(2), jnp.ones(3)), 'hypot'),
    (lambda: jax.jit(lambda a, b: a - b)(jnp.ones(3), jnp.ones(4)), 'subtract'),
])
def test_incompatible_shapes_raise_type_error_naming_op_and_shapes(expr, name):
    with pytest.raises(TypeError, match=rf'{name} got incompatible shapes for broadcasting: '
                                        r'\(\d+(, \d+)?,?\), \(\d+(, \d+)?,?\)'):
        expr()


def test_where_and_broadcast_arrays_keep_value_error_as_jax():
    with pytest.raises(ValueError, match='incompatible shapes'):
        jnp.where(jnp.ones(2) > 0, jnp.ones(3), 0)
    with pytest.raises(ValueError):
        jnp.broadcast_arrays(jnp.ones(2), jnp.ones(3))
