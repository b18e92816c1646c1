"""Top-level helpers: disable_jit, clear_caches, config contexts (enable_x64, debug_nans,
debug_infs, default_device), named_call/named_scope, custom_gradient, linear_transpose and
pure_callback. Expected values and error messages are what JAX 0.10.2 gives."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax.errors import JaxRuntimeError


def test_disable_jit_runs_python_eagerly():
    seen = []
    f = jax.jit(lambda x: seen.append(type(x).__name__) or x * 2)
    with jax.disable_jit():
        assert f(1.0) == 2.0
        assert jax.config.jax_disable_jit
    assert seen == ['float'] and not jax.config.jax_disable_jit
    np.testing.assert_array_equal(f(jnp.ones(2)), [2.0, 2.0])
    assert seen[-1] != 'float'                   # traced again, not run on the float


def test_clear_caches_retraces():
    traces = []
    f = jax.jit(lambda x: traces.append(1) or x + 1)
    f(jnp.ones(3))
    f(jnp.ones(3))
    assert len(traces) == 1
    jax.clear_caches()
    np.testing.assert_array_equal(f(jnp.ones(3)), [2.0, 2.0, 2.0])
    assert len(traces) == 2


def test_config_contexts():
    with jax.enable_x64():
        assert jnp.arange(2).dtype == np.int64 and jax.enable_x64.value
    assert jnp.arange(2).dtype == np.int32
    with jax.debug_nans(True):
        with pytest.raises(FloatingPointError, match=r'invalid value \(nan\) encountered in log'):
            jnp.log(-1.0)
        assert float(jnp.log(0.0)) == -np.inf            # infs are not checked
    with jax.debug_infs(True):
        with pytest.raises(FloatingPointError, match=r'invalid value \(inf\) encountered in log'):
            jnp.log(0.0)
        with pytest.raises(FloatingPointError, match=r'\(inf\)'):
            jax.jit(lambda x: jnp.log(x) * 2)(jnp.zeros(2))
    assert float(jnp.log(0.0)) == -np.inf
    cpu = jax.devices('cpu')[0]
    with jax.default_device(cpu):
        assert jnp.ones(1).devices() == {cpu}
        assert jax.jit(lambda: jnp.arange(3))().devices() == {cpu}
    with jax.default_device('cpu'):
        assert jnp.ones(1).devices() == {cpu}


def test_named_call_and_scope():
    assert jax.named_call(lambda x: x + 1, name='foo')(1) == 2
    with jax.named_scope('block'):
        np.testing.assert_array_equal(jax.jit(lambda x: x * 2)(jnp.ones(2)), [2.0, 2.0])
    with pytest.raises(TypeError, match='named_scope name argument must be a string.'):
        with jax.named_scope(1):
            pass


def test_custom_gradient():
    @jax.custom_gradient
    def g(x, y):
        return x * y, lambda ct: (ct * y * 10, ct * x)
    assert float(g(2.0, 3.0)) == 6.0
    gx, gy = jax.grad(g, argnums=(0, 1))(2.0, 3.0)
    assert (float(gx), float(gy)) == (30.0, 2.0)

    @jax.custom_gradient
    def h(x):
        return jnp.sin(x), lambda ct: ct * 5        # one argument: a bare cotangent
    assert float(jax.grad(h)(1.0)) == 5.0
    np.testing.assert_array_equal(jax.vmap(jax.grad(h))(jnp.ones(2)), [5.0, 5.0])
    assert float(jax.jit(jax.grad(h))(1.0)) == 5.0
    assert float(jax.grad(jax.grad(h))(1.0)) == 0.0   # the rule is constant in x
    np.testing.assert_allclose(h(1.0), np.sin(1.0), rtol=1e-6)


def test_linear_transpose():
    t = jax.linear_transpose(lambda x, y: 2 * x + y.sum(), 1.0, jnp.ones(3))
    cx, cy = t(2.0)
    assert float(cx) == 4.0
    np.testing.assert_array_equal(cy, [2.0, 2.0, 2.0])
    t = jax.linear_transpose(lambda x: x * 2, jax.ShapeDtypeStruct((2,), jnp.float32))
    (c,) = t(jnp.ones(2))
    np.testing.assert_array_equal(c, [2.0, 2.0])
    with pytest.raises(TypeError, match='cotangent type does not match function output'):
        t(1.0)
    m = jnp.arange(6.0).reshape(2, 3)
    (c,) = jax.jit(jax.linear_transpose(lambda v: m @ v, jnp.zeros(3)))(jnp.array([1.0, -1.0]))
    np.testing.assert_array_equal(c, m.T @ np.array([1.0, -1.0]))


def test_pure_callback():
    sds = jax.ShapeDtypeStruct((3,), jnp.float32)
    x = jnp.arange(3.0)
    np.testing.assert_allclose(jax.pure_callback(np.sin, sds, x), np.sin([0.0, 1.0, 2.0]), rtol=1e-6)
    out = jax.jit(lambda a: jax.pure_callback(np.sin, sds, a) * 2)(x)
    np.testing.assert_allclose(out, 2 * np.sin([0.0, 1.0, 2.0]), rtol=1e-6)
    d = jax.pure_callback(lambda v: {'a': v}, {'a': jax.ShapeDtypeStruct((), jnp.int32)}, 1)
    assert d['a'].dtype == np.int32 and int(d['a']) == 1 and not d['a'].weak_type
    # A float64 result is cast to the declared float32, as in JAX.
    r = jax.pure_callback(lambda v: np.float64(v), jax.ShapeDtypeStruct((), jnp.float32), 1.0)
    assert r.dtype == np.float32 and float(r) == 1.0
    with pytest.raises(JaxRuntimeError):
        jax.jit(lambda a: jax.pure_callback(lambda v: np.ones(2, np.float32),
                                            jax.ShapeDtypeStruct((), jnp.float32), a))(1.0)
    with pytest.raises(ValueError, match='Pure callbacks do not support JVP'):
        jax.grad(lambda a: jax.pure_callback(np.sin, jax.ShapeDtypeStruct((), jnp.float32), a))(1.0)


@pytest.mark.parametrize('method, calls', [
    ('sequential', [((3,), (3,)), ((3,), (3,))]),
    ('expand_dims', [((2, 3), (1, 3))]),
    ('broadcast_all', [((2, 3), (2, 3))]),
    ('legacy_vectorized', [((2, 3), (3,))]),
])
def test_pure_callback_vmap_methods(method, calls):
    seen = []

    def host(a, b):
        seen.append((a.shape, b.shape))
        return np.asarray(a * b, np.float32)
    xs = jnp.arange(6.0).reshape(2, 3)
    out = jax.vmap(lambda a: jax.pure_callback(
        host, jax.ShapeDtypeStruct((3,), jnp.float32), a, jnp.full(3, 2.0), vmap_method=method))(xs)
    np.testing.assert_array_equal(out, 2 * np.arange(6.0).reshape(2, 3))
    assert seen == calls


def test_pure_callback_vmap_needs_a_method():
    with pytest.raises(NotImplementedError, match="Got vmap_method=None"):
        jax.vmap(lambda a: jax.pure_callback(np.sin, jax.ShapeDtypeStruct((), jnp.float32), a))(
            jnp.ones(2))
