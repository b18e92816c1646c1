"""jit's buffer plan never lets one value's memory stand in for another's: constants
built inside the function, outputs written in place over a dying input, members of a
horizontally merged kernel. Expected values are JAX 0.10.2's (and eager tinyjax's)."""
import re

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp


def _sin_matmul_ones(x):
    v = jnp.sin(x)
    s = jnp.sum(v)
    return v @ jnp.ones((3, 1)), s


def _full_beside_cumsum(x):
    c = jnp.full(x.shape, 3, jnp.int32)
    v = jnp.maximum(0, x)
    return c, jnp.cumsum(v, axis=0) + c * v


def _constant_view_output(x):
    c = jnp.full((2,), 0.5, jnp.float32)
    y = jnp.log(x[1]) - jnp.sort(c)
    z = (c > jnp.sum(c)).astype(jnp.float32)
    return z, c[None], y


def _same(got, want):
    # jit's host math (libm) and eager's (NumPy) may differ in the last bit of exp/log
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=2e-6)


def test_constant_merged_beside_a_reshape_does_not_overwrite_its_input():
    x = jnp.array([0.5, -1.5, 0.25])
    got = jax.jit(_sin_matmul_ones)(x)
    np.testing.assert_allclose(np.asarray(got[0]), [-0.27066547], rtol=1e-6)   # JAX 0.10.2
    np.testing.assert_allclose(np.asarray(got[1]), np.sin([0.5, -1.5, 0.25]).sum(), rtol=1e-6)


@pytest.mark.parametrize('n', [1, 4, 7, 8, 9, 15, 16, 33])
def test_in_place_output_beside_a_constant_output(n):
    x = -jnp.ones((1, n), jnp.int32)
    c, r = jax.jit(_full_beside_cumsum)(x)
    np.testing.assert_array_equal(np.asarray(c), np.full((1, n), 3))
    np.testing.assert_array_equal(np.asarray(r), np.zeros((1, n)))     # JAX: all zeros
    x = jnp.arange(-3, n - 3, dtype=jnp.int32).reshape(1, n)
    _same(jax.jit(_full_beside_cumsum)(x), _full_beside_cumsum(x))


def test_view_of_a_constant_returned_beside_a_merged_kernel():
    z, c, y = jax.jit(_constant_view_output)(jnp.array([1.0, 1.0]))
    np.testing.assert_array_equal(np.asarray(c), [[0.5, 0.5]])         # JAX 0.10.2
    np.testing.assert_array_equal(np.asarray(y), [-0.5, -0.5])
    np.testing.assert_array_equal(np.asarray(z), [0.0, 0.0])


def test_merged_members_write_in_place_only_over_their_own_inputs():
    def f(a, b):
        p = jnp.exp(a)                       # kernel 1: a's value lives in a slot
        q = b * 2.0
        # two independent loop kernels: a constant (no inputs) and a negation of p
        return jnp.zeros_like(p) + 1.0, -p, q
    a = np.linspace(-1, 1, 9).astype(np.float32)
    b = np.arange(9, dtype=np.float32)
    _same(jax.jit(f)(a, b), f(a, b))
    merged = [s.kernel for s in jax.jit(f).lower(a, b).program.steps
              if s.kind == 'kernel' and s.kernel.inplace_by_output is not None]
    assert merged
    for k in merged:
        constant_out = [o for o, ins in k.inplace_by_output.items() if not ins]
        assert constant_out                  # the zeros+1 member reads nothing it may overwrite


def test_aliasable_kernel_parameters_carry_no_restrict():
    # An output may take the memory of an input read at the kernel's own index: such a
    # pair may not promise the compiler it does not alias. Other reads keep the promise.
    x = np.ones((4, 8), np.float32)
    src = jax.jit(lambda a, b: (a * 2 + b[0], jnp.zeros_like(a))).lower(x, x).program.kernels[0].source
    head = src.split('\n')[0]
    params = dict((m.group(2), m.group(1)) for m in re.finditer(r'(\S*)\s+(in\d+|out\d+)', head))
    assert all('__restrict__' not in q for name, q in params.items() if name.startswith('out'))
    assert any('__restrict__' in q for name, q in params.items() if name.startswith('in'))
    assert any('__restrict__' not in q for name, q in params.items() if name.startswith('in'))


@pytest.mark.parametrize('dtype', [np.int32, np.float32, np.float16])
@pytest.mark.parametrize('n', [3, 7, 9, 33])
def test_in_graph_constants_with_odd_lengths(dtype, n):
    def f(x):
        k = jnp.arange(n, dtype=dtype)
        o = jnp.ones((n,), dtype)
        w = jnp.linspace(0, 1, n).astype(dtype)
        t = x * k + o
        return t, o, k[::-1], jnp.cumsum(t) - w, t.reshape(1, n)
    x = np.arange(n).astype(dtype) - 2
    _same(jax.jit(f)(x), f(jnp.asarray(x)))


def test_constants_the_passes_drop_do_not_shift_the_others():
    # Two constants captured by the trace; the first only feeds dead code, so the passes
    # drop it, and the second must still read its own values (it read the first's).
    def f(x):
        a = jnp.arange(7, dtype=jnp.float16)
        b = jnp.arange(9, dtype=jnp.float16)
        a > a                                            # dead code: the passes remove it
        return x * 2, b, jnp.sum(b)
    x = np.float32(1.5)
    two, b, s = jax.jit(f)(x)
    np.testing.assert_array_equal(np.asarray(b), np.arange(9))
    assert float(s) == 36.0 and float(two) == 3.0
    # more constants traced than the optimised program keeps: no IndexError either
    def g(x):
        z = jnp.zeros((), jnp.float16) - 2.0
        w = jnp.linspace(0, 1, 5)
        return jnp.zeros_like(z), x * 0 + w[0]
    out = jax.jit(g)(np.ones(3, np.float32))
    assert float(out[0]) == 0.0
    np.testing.assert_array_equal(np.asarray(out[1]), np.zeros(3))
