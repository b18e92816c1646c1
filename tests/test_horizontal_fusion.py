"""Independent loop kernels side by side in a program become one launch."""
import numpy as np

import tinyjax as jax
import tinyjax.numpy as jnp

RNG = np.random.default_rng(0)


def _kernels(f, *args):
    return [s.kernel for s in jax.jit(f).lower(*args).program.steps if s.kind == 'kernel']


def test_optimizer_style_updates_are_one_launch():
    params = [RNG.standard_normal(s).astype(np.float32) for s in [(7, 5), (5,), (300, 3), (1,)]]
    grads = [RNG.standard_normal(p.shape).astype(np.float32) for p in params]

    def sgd(ps, gs):
        return [p - 0.1 * g for p, g in zip(ps, gs)]
    ks = _kernels(sgd, params, grads)
    assert len(ks) == 1 and ks[0].name.startswith('h') and len(ks[0].sizes) == 4
    for _ in range(2):
        got = jax.jit(sgd)(params, grads)
        for g, p, d in zip(got, params, grads):
            np.testing.assert_allclose(np.asarray(g), p - np.float32(0.1) * d, rtol=1e-6)


def test_mixed_dtypes_sizes_and_index_types():
    a = RNG.standard_normal(1003).astype(np.float32)
    b = RNG.integers(-9, 9, (17, 3)).astype(np.int32)
    c = RNG.random(4) > 0.5

    def f(a, b, c):
        return jnp.tanh(a) * 2, b * 3 - 1, ~c, (a[:4] > 0) & c
    ks = _kernels(f, a, b, c)
    assert len([k for k in ks if k.name.startswith('h')]) == 1
    got = jax.jit(f)(a, b, c)
    np.testing.assert_allclose(np.asarray(got[0]), np.tanh(a) * 2, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(np.asarray(got[1]), b * 3 - 1)
    np.testing.assert_array_equal(np.asarray(got[2]), ~c)
    np.testing.assert_array_equal(np.asarray(got[3]), (a[:4] > 0) & c)


def test_a_kernel_reading_another_is_not_merged_with_it():
    x = RNG.standard_normal((64, 33)).astype(np.float32)

    def f(x):
        y = jnp.exp(x)                     # a loop kernel
        s = jnp.sum(y, axis=0)             # a row kernel reads it
        return y * 2, s + 1                # loops after the reduction read its result
    got = jax.jit(f)(x)
    np.testing.assert_allclose(np.asarray(got[0]), np.exp(x) * 2, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(got[1]), np.exp(x).sum(0) + 1, rtol=1e-5)
    for k in _kernels(f, x):
        if k.name.startswith('h'):
            produced = {v for v in k.outputs}
            assert not any(v in produced for v in k.inputs)


def test_shared_input_is_never_overwritten_in_place():
    # Both members read x at their own index and x is donated: neither may write over
    # it, since the other runs after it in the same launch.
    x = RNG.standard_normal(4099).astype(np.float32)
    f = jax.jit(lambda v: (jnp.sin(v), jnp.cos(v[:2000])), donate_argnums=0)
    assert [k.name[0] for k in f.lower(jnp.asarray(x)).program.kernels] == ['h']
    s, c = f(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(s), np.sin(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(c), np.cos(x[:2000]), rtol=1e-6, atol=1e-7)


def test_unfused_baseline_keeps_one_kernel_per_primitive():
    f = jax.jit(lambda a, b: (a + 1, b * 2), fuse=False)
    prog = f.lower(np.ones(3, np.float32), np.ones(4, np.float32)).program
    assert len(prog.kernels) == 2 and not any(k.name.startswith('h') for k in prog.kernels)
