"""pmap on 8 CPU devices: collectives against NumPy, sharded results, grad, errors."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.transforms.pmap import ShardedArray


pytestmark = pytest.mark.usefixtures('eight_cpus')     # conftest: 8 CPU devices


def _shares_memory(a, b):
    """NumPy's test, or for device buffers (the emulated GPU's) their address ranges."""
    if hasattr(a, '__cuda_array_interface__'):
        lo = lambda x: x.__cuda_array_interface__['data'][0]
        return lo(a) < lo(b) + b.nbytes and lo(b) < lo(a) + a.nbytes
    return np.shares_memory(a, b)


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
    np.testing.assert_allclose(y + 1, np.sin(x) * 2 + 1, rtol=1e-6, atol=1e-6)   # compiled sinf: 1 ulp
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


# --- compiled pmap: one trace per signature, segments between collectives ----------------
def test_more_collectives_against_numpy():
    n = 8
    x = _x(n, 8, 3, seed=7)
    run = lambda f: np.asarray(jax.pmap(f, axis_name='i')(x))
    np.testing.assert_allclose(run(lambda v: lax.all_gather(v, 'i', axis=1)),
                               np.broadcast_to(np.moveaxis(x, 0, 1)[None], (n, 8, n, 3)))
    np.testing.assert_allclose(run(lambda v: lax.all_gather(v, 'i', axis=1, tiled=True)),
                               np.broadcast_to(np.concatenate(list(x), 1)[None], (n, 8, n * 3)))
    np.testing.assert_allclose(run(lambda v: lax.psum_scatter(v, 'i')), x.sum(0), rtol=1e-5)
    want = np.stack([np.concatenate([x[j][i:i + 1] for j in range(n)], 0) for i in range(n)])
    np.testing.assert_allclose(run(lambda v: lax.all_to_all(v, 'i', 0, 0, tiled=True)), want)
    ints = np.arange(n * 4, dtype=np.int32).reshape(n, 4)
    got = jax.pmap(lambda v: lax.psum(v, 'i'), axis_name='i')(ints)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(got), np.broadcast_to(ints.sum(0), ints.shape))
    perm = [(i, (i + 3) % n) for i in range(0, n, 2)]       # half the members get zeros
    want = np.zeros_like(x)
    for s, d in perm:
        want[d] = x[s]
    np.testing.assert_allclose(run(lambda v: lax.ppermute(v, 'i', perm)), want)
    np.testing.assert_allclose(run(lambda v: lax.pshuffle(v, 'i', list(range(n))[::-1])), x[::-1])


def test_compiled_once_per_signature_and_split_at_collectives():
    traces = []

    def f(v, scale):
        traces.append(1)
        h = jnp.tanh(v) * scale
        return lax.psum(h, 'i') + jnp.exp(v)
    p = jax.pmap(f, axis_name='i', static_broadcasted_argnums=1)
    x = _x(8, 5)
    for _ in range(3):
        out = p(x, 2.0)
    assert len(traces) == 1 and p.trace_count == 1 and p._cache_size() == 1
    np.testing.assert_allclose(np.asarray(out), np.tanh(x).sum(0) * 2 + np.exp(x), rtol=1e-5, atol=1e-6)
    p(x, 3.0)                                   # a new static value traces again
    p(_x(8, 6), 2.0)                            # so does a new shape
    p(_x(4, 5), 2.0)                            # and a new device count
    assert p.trace_count == 4
    prog = next(iter(p._cache.values())).program
    assert [s.kind for s in prog.steps] == ['segment', 'collective', 'segment']
    assert all(len(s.programs) == 8 for s in prog.steps if s.kind == 'segment')
    # Each segment is a jit Program: the elementwise work before psum is one fused kernel.
    assert len(prog.steps[0].programs[0].kernels) == 1


def test_compiled_matches_interpreted_spmd_eval():
    from tinyjax.core.trace import make_graph
    from tinyjax.interpreters.batching import axis_frame_pushed
    from tinyjax.transforms.spmd import spmd_eval
    x = _x(8, 4, seed=3)

    def f(v):
        m = lax.pmax(v, 'i')
        return lax.all_gather(jnp.sin(v - m), 'i', tiled=True).sum() + lax.axis_index('i')
    compiled = np.asarray(jax.pmap(f, axis_name='i')(x))
    devs = jax.devices()
    with axis_frame_pushed('i', 8):
        g, _ = make_graph(lambda v: [f(v)], [jnp.asarray(x[0]).aval])
    shards = [[jax.device_put(x[k], d) for k, d in enumerate(devs)]]
    interp = np.asarray([np.asarray(s) for s in spmd_eval(g, shards, 'i', devs)[0]])
    np.testing.assert_allclose(compiled, interp, rtol=1e-5)


def test_sharded_array_behaviour_and_donation():
    x = _x(8, 3)
    y = jax.pmap(lambda v: v * 2)(x)
    assert len(y) == 8 and y.ndim == 2 and y.dtype == np.float32
    assert len(y.addressable_shards) == 8 and len(y.devices()) == 8
    assert y.block_until_ready() is y
    np.testing.assert_allclose(y[2:5], 2 * x[2:5])
    np.testing.assert_allclose(jnp.sum(y, axis=0), (2 * x).sum(0), rtol=1e-5)
    np.testing.assert_allclose(jax.jit(lambda a: a.T @ a)(y), (2 * x).T @ (2 * x), rtol=1e-4)
    shards_before = [s._buf for s in y.shards]
    p = jax.pmap(lambda v: jnp.exp(v) + 1, donate_argnums=0)
    z = p(y)
    np.testing.assert_allclose(np.asarray(z), np.exp(2 * x) + 1, rtol=1e-5)
    assert y.is_deleted()
    with pytest.raises(RuntimeError, match='deleted'):
        p(y)
    # The program wrote its result over the donated shards' memory.
    assert any(_shares_memory(a, s._buf) for a, s in zip(shards_before, z.shards))
    w = jnp.ones(3)
    out = jax.pmap(lambda v, c: v + c, in_axes=(0, None), donate_argnums=(0, 1))(x, w)
    np.testing.assert_allclose(np.asarray(out), x + 1)


def test_literals_constants_and_outputs_of_every_kind():
    c = jnp.asarray(_x(3, seed=9))
    x = _x(8, 3)
    out = jax.pmap(lambda v: (v, lax.psum(1, 'i'), v * c, jnp.float32(2.0)), axis_name='i')(x)
    np.testing.assert_allclose(np.asarray(out[0]), x)
    np.testing.assert_array_equal(np.asarray(out[1]), np.full(8, 8))
    np.testing.assert_allclose(np.asarray(out[2]), x * np.asarray(c), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out[3]), np.full(8, 2.0))


def test_seed_program_normal_per_key():
    from tinyjax import random
    keys = random.split(random.PRNGKey(0), 8)
    out = jax.pmap(lambda key: random.normal(key, (40, 30)))(keys)
    assert out.shape == (8, 40, 30)
    for i in range(8):
        np.testing.assert_allclose(np.asarray(out[i]), np.asarray(random.normal(keys[i], (40, 30))),
                                   rtol=2e-6, atol=2e-6)


def test_more_errors():
    with pytest.raises(ValueError, match='unique'):
        jax.pmap(lambda v: lax.ppermute(v, 'i', [(0, 5)]), axis_name='i')(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match='inconsistent sizes'):
        jax.pmap(lambda a, b: a + b, in_axes=(0, 1))(jnp.ones((4, 3)), jnp.ones((4, 3)))
    with pytest.raises(NameError, match='unbound axis name'):
        jax.pmap(lambda v: lax.all_gather(v, 'k'))(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match='requires 3 logical devices'):
        jax.pmap(lambda v: v, devices=jax.devices()[:2])(jnp.ones((3, 2)))


# --- GPU: logical devices, NCCL (skipped without a GPU) ---------------------------------
def _gpu_suite():
    jax.config.update('jax_platforms', 'cuda')
    x = _x(8, 16, seed=11)
    run = lambda f: np.asarray(jax.pmap(f, axis_name='i')(x))
    np.testing.assert_allclose(run(lambda v: lax.psum(v, 'i')), np.broadcast_to(x.sum(0), x.shape), rtol=1e-5)
    np.testing.assert_allclose(run(lambda v: lax.pmax(v, 'i')), np.broadcast_to(x.max(0), x.shape))
    np.testing.assert_allclose(run(lambda v: lax.all_gather(v, 'i', tiled=True)),
                               np.broadcast_to(x.reshape(-1), (8, 8 * 16)))
    np.testing.assert_allclose(run(lambda v: lax.psum_scatter(v, 'i', tiled=True)),
                               x.sum(0).reshape(8, 2), rtol=1e-5)
    np.testing.assert_allclose(run(lambda v: lax.ppermute(v, 'i', [(i, (i + 1) % 8) for i in range(8)])),
                               np.roll(x, 1, axis=0))
    np.testing.assert_allclose(run(lambda v: lax.all_to_all(v, 'i', 0, 0, tiled=True)),
                               np.asarray(jax.vmap(lambda v: lax.all_to_all(v, 'i', 0, 0, tiled=True),
                                                   axis_name='i')(x)))


@pytest.mark.gpu
def test_gpu_eight_logical_devices_on_one_gpu(monkeypatch):
    from tinyjax.backends import collectives
    monkeypatch.setenv('TINYJAX_NUM_GPU_DEVICES', '8')
    monkeypatch.setenv('TINYJAX_NCCL', '0')        # device copies between logical devices
    monkeypatch.setattr(collectives, '_chosen', {})
    devs = jax.devices('gpu')
    assert len(devs) == 8 and len({d.stream.ptr for d in devs}) == 8
    _gpu_suite()


@pytest.mark.gpu
def test_gpu_nccl_one_rank_and_multi_rank(monkeypatch):
    from tinyjax.backends import collectives
    if collectives.nccl_module() is None:
        pytest.skip('NCCL is not installed')
    monkeypatch.setattr(collectives, '_chosen', {})
    jax.config.update('jax_platforms', 'cuda')
    x = _x(1, 32)
    out = jax.pmap(lambda v: lax.psum(v, 'i') * 2, axis_name='i', devices=jax.devices('gpu')[:1])(x)
    assert isinstance(next(iter(collectives._chosen.values())), collectives.NcclCollectives)
    np.testing.assert_allclose(np.asarray(out), 2 * x, rtol=1e-6)
    monkeypatch.setenv('TINYJAX_NUM_GPU_DEVICES', '8')
    monkeypatch.setenv('NCCL_MULTI_RANK_GPU_ENABLE', '1')
    monkeypatch.setattr(collectives, '_chosen', {})
    if collectives.nccl_version() < 23000 and len({d.physical_id for d in jax.devices('gpu')}) < 8:
        pytest.skip(f'NCCL {collectives.nccl_version()} cannot put 8 ranks on these GPUs')
    _gpu_suite()
    assert all(isinstance(c, collectives.NcclCollectives) for c in collectives._chosen.values())


def test_collectives_inside_checkpoint_and_custom_vjp():
    # Values recorded from JAX 0.10.2 on 4 CPU devices.
    x = jnp.arange(8.0).reshape(4, 2)

    def f(v):
        return jax.checkpoint(lambda u: lax.psum(jnp.sin(u), 'i') * u)(v)

    @jax.custom_vjp
    def g(u):
        return lax.pmean(u, 'i') * 2
    g.defvjp(lambda u: (g(u), None), lambda r, ct: (ct * 2,))

    np.testing.assert_allclose(np.asarray(jax.pmap(f, axis_name='i')(x)),
                               [[-0., 0.6806533], [-0.25384116, 2.0419598],
                                [-0.5076823, 3.4032664], [-0.7615235, 4.764573]], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(jax.pmap(g, axis_name='i')(x)), [[6., 8.]] * 4)
    np.testing.assert_allclose(
        np.asarray(jax.pmap(jax.grad(lambda u: f(u).sum()), axis_name='i')(x)),
        [[11.873079, 9.32549], [-5.1206827, -15.159226], [-7.970644, 5.2192483],
         [11.395123, 12.74309]], rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(jax.pmap(lambda u: jax.grad(lambda w: g(w).sum())(u), axis_name='i')(x)),
        [[2., 2.]] * 4)


def test_collectives_inside_scan_and_while_loop_bodies():
    # Values recorded from JAX 0.10.2 on 4 CPU devices. The loop runs with the shards
    # stacked on one device and vmapped over 'i' (spmd.run_stacked).
    x = jnp.arange(8.0).reshape(4, 2)

    def scanned(v):
        def body(c, xs):
            c = c + lax.psum(c * xs, 'i')
            return c, lax.pmax(c, 'i')
        return lax.scan(body, v, jnp.arange(3.0))

    c, ys = jax.pmap(scanned, axis_name='i')(x)
    np.testing.assert_allclose(np.asarray(c), [[132., 177.], [134., 179.], [136., 181.],
                                               [138., 183.]])
    np.testing.assert_allclose(np.asarray(ys), [[[6., 7.], [18., 23.], [138., 183.]]] * 4)

    def looped(v):
        return lax.while_loop(lambda s: lax.psum(s[0], 'i') < 100.,
                              lambda s: (s[0] + lax.pmean(s[1], 'i').sum(), s[1] + 1),
                              (v.sum(), v))
    total, last = jax.pmap(looped, axis_name='i')(x)
    np.testing.assert_allclose(np.asarray(total), [28., 32., 36., 40.])
    np.testing.assert_allclose(np.asarray(last), [[3., 4.], [5., 6.], [7., 8.], [9., 10.]])

    def loss(v):
        def body(c, xs):
            c = jnp.sin(c) + lax.psum(c * xs, 'i')
            return c, c * 2
        c, ys = lax.scan(body, v, jnp.arange(3.0))
        return (c ** 2).sum() + ys.sum()
    np.testing.assert_allclose(
        np.asarray(jax.pmap(jax.grad(loss), axis_name='i')(x / 10)),
        [[1110.7954, 1320.9261], [1079.4907, 1252.3953], [999.05725, 1130.0422],
         [877.88037, 964.8831]], rtol=2e-5)
