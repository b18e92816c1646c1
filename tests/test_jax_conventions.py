"""JAX behaviours that are conventions rather than values: jit's cache keyed on the
function, XLA_FLAGS' host device count, complex derivatives checked against finite
differences, and the exact fused multiply-add behind random.uniform. Counts and results
in comments are what JAX 0.10.2 gave for the same programs."""
import functools
import gc
import os
import subprocess
import sys
import weakref
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.ops.exact_fma import fma, fma_impl
from tinyjax.test_util import check_grads

REPO = Path(__file__).resolve().parents[1]


# --- jit's cache belongs to the function ----------------------------------------------
def test_jit_traces_once_per_function_like_jax():
    traces = []

    def f(x):
        traces.append(1)
        return x * 2

    x = jnp.ones(3)
    for _ in range(5):
        jax.jit(f)(x)                      # inline jit in a loop: JAX traces once
    assert len(traces) == 1
    jax.jit(f)(jnp.ones(4))                # a new shape traces again
    assert len(traces) == 2
    jax.jit(f, static_argnums=())(x)       # the same options: reused
    y = jnp.arange(3.)
    np.testing.assert_array_equal(jax.jit(f, donate_argnums=0)(y), [0., 2., 4.])
    assert y.is_deleted() and len(traces) == 2   # donation does not retrace (JAX: 2)

    def k(x, s):
        traces.append(1)
        return x * s
    jax.jit(k, static_argnums=1)(x, 2)
    jax.jit(k, static_argnums=1)(x, 2)
    assert len(traces) == 3
    jax.jit(functools.partial(f))(x)        # another callable object: its own trace
    assert len(traces) == 4


def test_second_jit_of_same_function_does_not_see_changed_global():
    # JAX's documented impure-function behaviour: 2.0, 2.0, then [11, 11] for a new shape.
    scale = {'g': 1.0}

    def h(x):
        return x + scale['g']
    assert float(jax.jit(h)(1.)) == 2.0
    scale['g'] = 10.0
    assert float(jax.jit(h)(1.)) == 2.0
    np.testing.assert_array_equal(jax.jit(h)(jnp.ones(2)), [11., 11.])


def test_jit_cache_lets_functions_be_collected():
    def f(x):
        return x * 3
    jitted = jax.jit(f)
    np.testing.assert_array_equal(jitted(jnp.ones(2)), [3., 3.])
    ref = weakref.ref(f)
    del f, jitted
    gc.collect()
    assert ref() is None


# --- XLA_FLAGS ------------------------------------------------------------------------
@pytest.mark.parametrize('env, want', [
    ({'XLA_FLAGS': '--xla_force_host_platform_device_count=8'}, 8),
    ({'XLA_FLAGS': '--xla_force_host_platform_device_count=8', 'JAX_NUM_CPU_DEVICES': '4'}, 4),
    ({'XLA_FLAGS': '--xla_force_host_platform_device_count=3 '
                   '--xla_force_host_platform_device_count=5'}, 5),
    ({'XLA_FLAGS': '--xla_cpu_enable_fast_math=false --xla_force_host_platform_device_count=3'}, 3),
    ({}, 1),
])
def test_host_device_count_from_xla_flags(env, want):
    base = {k: v for k, v in os.environ.items() if k not in ('XLA_FLAGS', 'JAX_NUM_CPU_DEVICES')}
    code = ('import tinyjax as jax; n = len(jax.devices()); '
            "jax.config.update('jax_num_cpu_devices', 2); print(n, len(jax.devices()))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         env={**base, **env, 'PYTHONPATH': str(REPO), 'TINYJAX_PLATFORM': 'cpu'},
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(want), '2']


# --- complex derivatives against finite differences -------------------------------------
_COMPLEX_FUNCTIONS = {
    'real': jnp.real, 'imag': jnp.imag, 'conj': jnp.conj, 'abs': jnp.abs, 'angle': jnp.angle,
    'complex': lambda z: lax.complex(jnp.imag(z), jnp.real(z) * 2),
    'mul_1j': lambda z: z * 1j, 'square': lambda z: z * z, 'div': lambda z: 1 / (z + 3),
    'pow': lambda z: z ** 2.5, 'integer_pow': lambda z: z ** 3, 'exp': jnp.exp,
    'log': jnp.log, 'log1p': jnp.log1p, 'expm1': jnp.expm1, 'sqrt': jnp.sqrt,
    'rsqrt': lax.rsqrt, 'sin': jnp.sin, 'cos': jnp.cos, 'tan': jnp.tan, 'tanh': jnp.tanh,
    'sinh': jnp.sinh, 'cosh': jnp.cosh, 'arctan': jnp.arctan, 'arcsinh': jnp.arcsinh,
    'sum': jnp.sum, 'prod': jnp.prod, 'cumsum': jnp.cumsum, 'cumprod': jnp.cumprod,
    'dot': lambda z: jnp.dot(z, z), 'vdot': lambda z: jnp.vdot(z, 2 * z),
    'matmul': lambda z: jnp.outer(z, z) @ z,
    'einsum_conj': lambda z: jnp.einsum('i,j->ij', z, jnp.conj(z)),
    'real_times_z': lambda z: jnp.real(z) * z, 'abs_squared': lambda z: jnp.abs(z) ** 2,
    'index': lambda z: z[jnp.array([0, 2, 2])], 'pad_concat': lambda z: jnp.concatenate([jnp.pad(z, 1), z]),
    'where': lambda z: jnp.where(jnp.real(z) > 0, z, z * 2),
    'astype': lambda z: jnp.real(z).astype(jnp.complex128) * z,
    'scan': lambda z: lax.scan(lambda c, x: (c * x, c), jnp.complex128(1), z)[0],
    'cond': lambda z: lax.cond(True, lambda a: a * a, lambda a: a, z),
    'fori_loop': lambda z: lax.fori_loop(0, 3, lambda i, a: a * z, z),
    'jit': jax.jit(lambda z: jnp.exp(z) * jnp.conj(z)),
    'vmap': jax.vmap(lambda z: jnp.sin(z) * jnp.imag(z)),
    'cholesky': lambda z: jnp.linalg.cholesky(jnp.outer(z, jnp.conj(z)) + 5 * jnp.eye(5)),
    'cholesky_upper': lambda z: jnp.linalg.cholesky(jnp.outer(z, jnp.conj(z)) + 5 * jnp.eye(5),
                                                    upper=True),
}


@pytest.mark.parametrize('name', list(_COMPLEX_FUNCTIONS))
def test_check_grads_on_complex_inputs(name, x64):
    rng = np.random.default_rng(0)
    z = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    check_grads(_COMPLEX_FUNCTIONS[name], (z,), order=2)


def test_check_grads_complex_catches_a_conjugated_tangent(x64):
    # A rule that conjugates the tangent (not complex-linear) fails against finite
    # differences along complex directions.
    @jax.custom_jvp
    def f(z):
        return z * (2 + 1j)
    f.defjvp(lambda p, t: (f(p[0]), jnp.conj(t[0]) * (2 + 1j)))
    with pytest.raises(AssertionError, match='finite differences'):
        check_grads(f, (np.array([1 + 1j, 2 - 0.5j]),), order=1, modes=('fwd',))


def test_check_grads_reads_a_python_float_as_float32():
    # JAX's "Transformations" page: a float32 loss of (W, b) with b a Python float passes
    # check_grads to order 2. Without x64 b computes in float32, so the float32
    # tolerance applies (read as float64, 1e-5 failed on float32 rounding).
    inputs = jnp.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15],
                        [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]])
    targets = jnp.array([True, True, False, True])

    def loss(W, b):
        preds = 0.5 * (jnp.tanh((inputs @ W + b) / 2) + 1)
        return -jnp.sum(jnp.log(preds * targets + (1 - preds) * (1 - targets)))
    check_grads(loss, (jnp.array([0.1, 0.4, -0.3]), 0.5), order=2)


# --- the exact fused multiply-add -------------------------------------------------------
def _round_exact(v, dtype):
    """The value nearest Fraction v in dtype, ties to even."""
    f = dtype.type(float(v))
    cands = [np.nextafter(f, dtype.type(-np.inf)), f, np.nextafter(f, dtype.type(np.inf))]
    return min(cands, key=lambda c: (abs(Fraction(float(c)) - v), int(c.view(
        np.uint32 if dtype == np.float32 else np.uint64)) & 1))


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_fma_rounds_once(dtype):
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(1)
    n = 3000
    x = (rng.standard_normal(n) * np.exp2(rng.integers(-20, 20, n))).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    # z close to -x*y: heavy cancellation, where one rounding and two differ most.
    z = np.concatenate([(-(x[:n // 2].astype(np.float64) * y[:n // 2])
                         * (1 + 1e-7 * rng.standard_normal(n // 2))).astype(dtype),
                        rng.standard_normal(n - n // 2).astype(dtype)])
    got = fma_impl(np, x, y, z)
    want = np.array([_round_exact(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)),
                                  dtype) for a, b, c in zip(x, y, z)], dtype)
    np.testing.assert_array_equal(got, want)
    assert np.any(got != (x * y + z).astype(dtype))    # the emulation is not the plain sum


def test_fma_compiled_matches_eager():
    rng = np.random.default_rng(2)
    x, y, z = (rng.standard_normal(4096).astype(np.float32) for _ in range(3))
    eager = fma(jnp.asarray(x), jnp.asarray(y), jnp.asarray(z))
    jitted = jax.jit(fma)(x, y, z)
    np.testing.assert_array_equal(np.asarray(eager), np.asarray(jitted))
    np.testing.assert_array_equal(np.asarray(eager), fma_impl(np, x, y, z))
    t = jax.jvp(fma, (x, y, z), (np.ones_like(x), np.zeros_like(y), np.ones_like(z)))[1]
    np.testing.assert_allclose(np.asarray(t), y + 1, rtol=1e-6)
