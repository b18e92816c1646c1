"""Loop kernels move VEC consecutive elements per step when their buffers are aligned,
and fall back to the scalar loop (which also does the tail) when one is not. The host
runs the same generated code, so these tests run both paths on the CPU."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax.core.array import ArrayImpl


def _f(x, y):
    return jnp.where(x > 0, x * y, jnp.exp(x)) + y[::-1]


def _ref(x, y):
    return np.where(x > 0, x * y, np.exp(x)) + y[::-1]


@pytest.mark.parametrize('n', [1, 3, 4, 5, 8, 1023, 1025, 4099])
def test_every_length_and_tail(n):
    rng = np.random.default_rng(n)
    x, y = rng.standard_normal((2, n)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(jax.jit(_f)(x, y)), _ref(x, y), rtol=1e-6, atol=1e-6)


def test_vector_loads_are_generated_for_own_index_reads_only():
    x = np.ones(64, np.float32)
    src = jax.jit(_f).lower(x, x).program.kernels[0].source
    assert 'tj_vec_load<4>(in0, v)' in src and 'tj_vec_load<4>(in1, v)' in src
    assert 'tj_vec_store<4>(out0, v, xout0)' in src
    assert 'in1[(63 - i0)]' in src          # the reversed read stays a scalar load
    tiny = jax.jit(lambda a: a + 1).lower(np.ones(3, np.float32)).program.kernels[0].source
    assert 'tj_vec' not in tiny              # fewer elements than one vector


def test_misaligned_views_take_the_scalar_path():
    dev = jax.devices()[0]
    base = np.random.default_rng(0).standard_normal(1030).astype(np.float32)
    f = jax.jit(_f)
    for off in range(4):
        x = base[off:off + 1025]               # contiguous, data pointer off by 4*off bytes
        assert x.flags.c_contiguous
        y = base[::-1][:1025].copy()
        got = f(ArrayImpl(x, dev), ArrayImpl(y, dev))
        np.testing.assert_allclose(np.asarray(got), _ref(x, y), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('dtype', ['float16', 'bfloat16', 'float64', 'int8', 'int64', 'bool'])
def test_dtypes_of_every_width(dtype):
    rng = np.random.default_rng(1)
    n = 1027
    if dtype == 'bool':
        x = rng.random(n) > 0.5
        f, ref = (lambda a: jnp.logical_not(a) | a[::-1]), (lambda a: ~a | a[::-1])
    else:
        x = jnp.asarray((rng.standard_normal(n) * 20).astype(np.float32)).astype(dtype)
        x = np.asarray(x)
        f, ref = (lambda a: a * 3 - a[::-1]), (lambda a: a * 3 - a[::-1])
    got = np.asarray(jax.jit(f)(x))
    want = ref(x.astype(np.float32) if dtype in ('float16', 'bfloat16') else x)
    if dtype in ('float16', 'bfloat16'):
        np.testing.assert_allclose(got.astype(np.float32), want, rtol=1e-2, atol=1e-1)
    else:
        np.testing.assert_array_equal(got, want)


def test_mixed_widths_in_one_kernel():
    rng = np.random.default_rng(2)
    a = rng.standard_normal(1001)
    b = rng.standard_normal(1001).astype(np.float32)
    m = rng.random(1001) > 0.3
    f = jax.jit(lambda a, b, m: (jnp.where(m, a, b.astype(a.dtype)), (b * 2).astype(jnp.int8), ~m))
    jax.config.update('jax_enable_x64', True)
    try:
        r1, r2, r3 = f(a, b, m)
    finally:
        jax.config.update('jax_enable_x64', False)
    np.testing.assert_array_equal(np.asarray(r1), np.where(m, a, b.astype(np.float64)))
    np.testing.assert_array_equal(np.asarray(r2), (b * 2).astype(np.int8))
    np.testing.assert_array_equal(np.asarray(r3), ~m)


def test_in_place_over_a_donated_input():
    x = np.random.default_rng(3).standard_normal(4103).astype(np.float32)
    f = jax.jit(lambda v: jnp.tanh(v) * 2 + v, donate_argnums=0)
    got = f(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(got), np.tanh(x) * 2 + x, rtol=1e-6, atol=1e-6)

