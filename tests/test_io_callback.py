"""jax.experimental.io_callback: runs every time the computation runs (eagerly, under
jit even with its result unused, in program order), once per example under vmap, and
raises JAX's errors for ordered vmap and differentiation. Expected call logs, values and
messages are what JAX 0.10.2 gives on the same code."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax.experimental import io_callback

SDS = jax.ShapeDtypeStruct((3,), jnp.float32)
SCALAR = jax.ShapeDtypeStruct((), jnp.float32)


@pytest.fixture
def log():
    calls = []

    def cb(x):
        calls.append(np.asarray(x).tolist())
        return np.asarray(x) * 2
    return calls, cb


def test_eager_and_jit_run_on_every_call(log):
    calls, cb = log
    x = jnp.arange(3.0)
    np.testing.assert_array_equal(io_callback(cb, SDS, x), [0., 2., 4.])
    f = jax.jit(lambda v: io_callback(cb, SDS, v) + 1)
    np.testing.assert_array_equal(f(x), [1., 3., 5.])
    np.testing.assert_array_equal(f(x + 1), [3., 5., 7.])
    assert calls == [[0., 1., 2.], [0., 1., 2.], [1., 2., 3.]]


def test_unused_result_still_runs_and_order_is_kept(log):
    calls, cb = log
    x = jnp.arange(3.0)
    g = jax.jit(lambda v: (io_callback(cb, SDS, v), v * 3)[1])
    np.testing.assert_array_equal(g(x), [0., 3., 6.])
    assert calls == [[0., 1., 2.]]
    calls.clear()
    h = jax.jit(lambda v: (io_callback(cb, SDS, v, ordered=True),
                           io_callback(cb, SDS, v * 10, ordered=True))[1])
    np.testing.assert_array_equal(h(x), [0., 20., 40.])
    assert calls == [[0., 1., 2.], [0., 10., 20.]]
    text = str(jax.make_jaxpr(lambda v: io_callback(cb, SDS, v, ordered=True))(x))
    assert 'io_callback[' in text and 'ordered=True' in text
    effects = jax.make_jaxpr(lambda v: io_callback(cb, SDS, v))(x).effects
    assert [repr(e) for e in effects] == ['IOEffect']
    effects = jax.make_jaxpr(lambda v: io_callback(cb, SDS, v, ordered=True))(x).effects
    assert [repr(e) for e in effects] == ['OrderedIOEffect']


def test_vmap_calls_once_per_example(log):
    calls, cb = log
    x = jnp.arange(3.0)
    np.testing.assert_array_equal(jax.vmap(lambda v: io_callback(cb, SCALAR, v))(x), [0., 2., 4.])
    assert calls == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match='Cannot `vmap` ordered IO callback.'):
        jax.vmap(lambda v: io_callback(cb, SCALAR, v, ordered=True))(x)


def test_differentiation_raises_jax_error_unless_independent(log):
    calls, cb = log
    x = jnp.arange(3.0)
    for fn in (lambda: jax.grad(lambda v: jnp.sum(io_callback(cb, SDS, v)))(x),
               lambda: jax.jit(jax.grad(lambda v: jnp.sum(io_callback(cb, SDS, v))))(x),
               lambda: jax.jvp(lambda v: io_callback(cb, SDS, v), (x,), (x,))):
        with pytest.raises(ValueError, match='IO callbacks do not support JVP.'):
            fn()
    calls.clear()
    # A callback not depending on the differentiated input runs once, as in JAX.
    np.testing.assert_array_equal(jax.grad(lambda v: jnp.sum(v * io_callback(cb, SDS, x)))(x),
                                  [0., 2., 4.])
    assert calls == [[0., 1., 2.]]


def test_no_result_and_pytrees():
    seen = []
    assert io_callback(lambda v: seen.append(float(v)), None, 2.0) is None
    assert seen == [2.0]
    out = io_callback(lambda d: {'s': d['a'] + d['b']}, {'s': SCALAR},
                      {'a': jnp.float32(1.0), 'b': jnp.float32(2.5)})
    assert float(out['s']) == 3.5


def test_shape_dtype_struct_like():
    # JAX 0.10.2: dtypes canonicalized as an array's, Python scalars weakly typed.
    like = jax.ShapeDtypeStruct.like
    assert repr(like(jnp.ones((2, 3)))) == 'ShapeDtypeStruct(shape=(2, 3), dtype=float32)'
    assert repr(like(np.ones(3))) == 'ShapeDtypeStruct(shape=(3,), dtype=float32)'
    assert repr(like(1.0)) == 'ShapeDtypeStruct(shape=(), dtype=float32, weak_type=True)'
    assert like(jax.ShapeDtypeStruct((2,), jnp.int32)) == jax.ShapeDtypeStruct((2,), jnp.int32)
    x = jnp.arange(5.0)
    np.testing.assert_allclose(jax.jit(lambda v: jax.pure_callback(np.sin, jax.ShapeDtypeStruct.like(v), v))(x),
                               np.sin(np.arange(5.0)), rtol=1e-6)
