"""pmap on 8 CPU devices: collectives against NumPy, sharded results, grad, errors."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.transforms.pmap import ShardedArray


@pytest.fixture(autouse=True)
def eight_cpus():
    jax.config.update('jax_num_cpu_devices', 8)
    yield
    jax.config.update('jax_num_cpu_devices', 1)


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_devices_and_sharded_result():
    assert jax.device_count() == 8
    x = _x(8, 3)
    y = jax.pmap(lambda v: jnp.sin(v) * 2)(x)
    assert isinstance(y, ShardedArray) and y.shape == (8, 3)
    assert [s.device.id for s in y.shards] == list(range(8))
    np.testing.assert_allclose(np.asarray(y), np.sin(x) * 2, rtol=1e-6)
    np.testing.assert_allclose(y[3], np.sin(x[3]) * 2, rtol=1e-6)
    np.testing.assert_allclose(y + 1, np.sin(x) * 2 + 1, rtol=1e-6)
    z = jax.pmap(lambda v: v * 3)(y)                     # shards feed the next pmap directly
    assert all(a.device is b.device for a, b in zip(z.shards, y.shards))
    np.testing.assert_allclose(np.asarray(z), np.sin(x) * 6, rtol=1e-6)


@pytest.mark.parametrize('n', [1, 4, 8])
def test_collectives_against_numpy(n):
    x = _x(n, 6, seed=n)
    run = lambda f: np.asarray(jax.pmap(f, axis_name='i')(x))
    np.testing.assert_allclose(run(lambda v: lax.psum(v, 'i')), np.broadcast_to(x.sum(0), x.shape), rtol=1e-5)
    np.testing.assert_allclose(run(lambda v: lax.pmean(v, 'i')), np.broadcast_to(x.mean(0), x.shape), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run(lambda v: lax.pmax(v, 'i')), np.broadcast_to(x.max(0), x.shape))
    np.testing.assert_allclose(run(lambda v: lax.pmin(v, 'i')), np.broadcast_to(x.min(0), x.shape))
    np.testing.assert_array_equal(np.asarray(jax.pmap(lambda v: lax.axis_index('i'), axis_name='i')(x)), np.arange(n))
    g = run(lambda v: lax.all_gather(v, 'i'))
    np.testing.assert_allclose(g, np.broadcast_to(x, (n,) + x.shape))
    gt = run(lambda v: lax.all_gather(v, 'i', tiled=True))
    np.testing.assert_allclose(gt, np.broadcast_to(x.reshape(-1), (n, n * 6)))
    perm = [(i, (i + 1) % n) for i in range(n)]
    np.testing.assert_allclose(run(lambda v: lax.ppermute(v, 'i', perm)), np.roll(x, 1, axis=0))


def test_psum_scatter_and_all_to_all_match_vmap():
    x = _x(4, 8, 3, seed=5)
    for f in (lambda v: lax.psum_scatter(v, 'i', scatter_dimension=0, tiled=True),
              lambda v: lax.psum_scatter(v[:4], 'i'),
              lambda v: lax.all_to_all(v, 'i', 0, 1, tiled=True),
              lambda v: lax.all_to_all(v[:4], 'i', 0, 1),
              lambda v: lax.all_to_all(v, 'i', 1, 0, tiled=False) if False else lax.all_to_all(v, 'i', 0, 0, tiled=True)):
        got = np.asarray(jax.pmap(f, axis_name='i')(x))
        want = np.asarray(jax.vmap(f, axis_name='i')(x))
        np.testing.assert_allclose(got, want, rtol=1e-6)
    # psum_scatter by hand: member i gets rows [2i, 2i+2) of the sum.
    got = np.asarray(jax.pmap(lambda v: lax.psum_scatter(v, 'i', tiled=True), axis_name='i')(x))
    np.testing.assert_allclose(got, x.sum(0).reshape(4, 2, 3), rtol=1e-5)


def test_in_axes_static_args_and_out_axes():
    x = _x(8, 2)
    w = _x(2, seed=1)
    out = jax.pmap(lambda a, b: a * b, in_axes=(0, None))(x, w)
    np.testing.assert_allclose(np.asarray(out), x * w, rtol=1e-6)
    out = jax.pmap(lambda a, k: a * k, static_broadcasted_argnums=1)(x, 3)
    np.testing.assert_allclose(np.asarray(out), x * 3, rtol=1e-6)
    out = jax.pmap(lambda a: a + 1, in_axes=1, out_axes=1)(x.T.copy())
    np.testing.assert_allclose(np.asarray(out), x.T + 1, rtol=1e-6)
    tree = jax.pmap(lambda d: {'s': d['a'] + d['b']})({'a': x, 'b': x})
    np.testing.assert_allclose(np.asarray(tree['s']), 2 * x, rtol=1e-6)


def test_grad_through_psum_and_data_parallel_step_matches_single_device():
    x = jnp.arange(8.0)
    g = jax.grad(lambda x: jnp.sum(jax.pmap(lambda v: v * lax.psum(v, 'i'), axis_name='i')(x)))(x)
    np.testing.assert_allclose(g, np.full(8, 2 * 28.0))

    w = jnp.asarray(_x(3, 2, seed=2))
    xs = _x(8, 4, 3, seed=3)
    ys = _x(8, 4, 2, seed=4)
    loss = lambda w, x, y: jnp.mean((jnp.tanh(x @ w) - y) ** 2)

    def step(w, x, y):
        g = jax.grad(loss)(w, x, y)
        return w - 0.1 * lax.pmean(g, 'i')
    new = jax.pmap(step, axis_name='i', in_axes=(None, 0, 0))(w, xs, ys)
    single = w - 0.1 * jax.grad(loss)(w, jnp.asarray(xs.reshape(32, 3)), jnp.asarray(ys.reshape(32, 2)))
    for i in range(8):
        np.testing.assert_allclose(new[i], single, rtol=1e-5, atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match='requires 9 logical devices'):
        jax.pmap(lambda v: v)(jnp.ones((9, 2)))
    with pytest.raises(ValueError, match='inconsistent sizes'):
        jax.pmap(lambda a, b: a + b)(jnp.ones((2, 3)), jnp.ones((3, 3)))
    with pytest.raises(NameError, match='unbound axis name'):
        jax.pmap(lambda v: lax.psum(v, 'j'), axis_name='i')(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match='unique'):
        jax.pmap(lambda v: lax.ppermute(v, 'i', [(0, 1), (1, 1)]), axis_name='i')(jnp.ones((2, 3)))
