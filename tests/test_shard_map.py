"""Meshes, NamedSharding, device_put across devices and shard_map on 8 CPU devices.

Values and result specs recorded from JAX 0.10.2 (XLA_FLAGS=
--xla_force_host_platform_device_count=8) in tests/data/shard_map_jax.json; the same
programs are built here and compared, eagerly (an SpmdProgram over the mesh devices) and
under jit/grad/vmap (nested vmaps over the mesh axes).
"""
import json
import pathlib

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.sharding.arrays import GlobalArray
from tinyjax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

REC = json.loads((pathlib.Path(__file__).parent / 'data' / 'shard_map_jax.json').read_text())


pytestmark = pytest.mark.usefixtures('eight_cpus')     # conftest: 8 CPU devices


def _x():
    return jnp.arange(32., dtype=jnp.float32).reshape(8, 4) / 7.0


def _run(f, in_specs, out_specs, *args, mesh=None):
    mesh = mesh or jax.make_mesh((4, 2), ('x', 'y'))
    specs = in_specs if isinstance(in_specs, tuple) and not isinstance(in_specs, P) else (in_specs,)
    args = [jax.device_put(a, NamedSharding(mesh, s)) for a, s in zip(args, specs)]
    return jax.shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs)(*args)


def _check(name, r, spec=True):
    want = REC[name]
    np.testing.assert_allclose(np.asarray(r), np.asarray(want['value'], np.float32),
                               rtol=1e-5, atol=1e-6)
    assert list(r.shape) == want['shape']
    if spec:
        assert isinstance(r, GlobalArray)
        got = [None if p is None else (list(p) if isinstance(p, tuple) else p) for p in r.sharding.spec]
        assert got == want['spec']


COLLECTIVES = {
    'psum_y': (lambda a: lax.psum(a, 'y'), P('x', 'y'), P('x')),
    'pmean_xy': (lambda a: lax.pmean(a, ('x', 'y')), P('x', 'y'), P()),
    'pmax_x': (lambda a: lax.pmax(a, 'x'), P('x', 'y'), P(None, 'y')),
    'pmin_x': (lambda a: lax.pmin(a, 'x'), P('x', 'y'), P(None, 'y')),
    'all_gather_x': (lambda a: lax.all_gather(a, 'x'), P('x', 'y'), P('x', None, 'y')),
    'all_gather_y_tiled': (lambda a: lax.all_gather(a, 'y', axis=1, tiled=True), P('x', 'y'),
                           P('x', 'y')),
    'psum_scatter_x': (lambda a: lax.psum_scatter(a, 'x', scatter_dimension=0, tiled=True),
                       P(None, 'y'), P('x', 'y')),
    'ppermute_x': (lambda a: lax.ppermute(a, 'x', [(i, (i + 1) % 4) for i in range(4)]),
                   P('x', 'y'), P('x', 'y')),
    'all_to_all_x': (lambda a: lax.all_to_all(a, 'x', 1, 0, tiled=True), P('x'), P('x')),
    'axis_index': (lambda a: a * lax.axis_index('x') + lax.axis_index('y'), P('x', 'y'),
                   P('x', 'y')),
}


@pytest.mark.parametrize('name', sorted(COLLECTIVES))
def test_collectives_on_a_2d_mesh_match_jax(name):
    f, i, o = COLLECTIVES[name]
    _check(name, _run(f, i, o, _x()))


@pytest.mark.parametrize('name', sorted(COLLECTIVES))
def test_under_jit_the_same_values(name):
    # Under a transformation shard_map is nested vmaps over the mesh axes.
    f, i, o = COLLECTIVES[name]
    mesh = jax.make_mesh((4, 2), ('x', 'y'), axis_types=(AxisType.Auto,) * 2)
    g = jax.jit(jax.shard_map(f, mesh=mesh, in_specs=i, out_specs=o))
    _check(name, g(_x()), spec=False)


def test_one_axis_mesh():
    mesh = jax.make_mesh((8,), ('d',))
    _check('psum_1d', _run(lambda a: lax.psum(a, 'd'), P('d'), P(), jnp.arange(8.), mesh=mesh))


def _mlp():
    d = REC['mlp_inputs']
    return [np.asarray(d[k], np.float32) for k in ('W1', 'W2', 'x', 'y')]


def _loss(p, x, y):
    return jnp.mean((jnp.tanh(x @ p[0]) @ p[1] - y) ** 2)


def test_data_parallel_mlp_gradient():
    W1, W2, xb, yb = _mlp()
    mesh = jax.make_mesh((8,), ('d',))
    step = jax.shard_map(lambda p, x, y: lax.pmean(_loss(p, x, y), 'd'), mesh=mesh,
                         in_specs=(P(), P('d'), P('d')), out_specs=P())
    put = lambda v, s: jax.device_put(v, NamedSharding(mesh, s))
    args = ((put(W1, P()), put(W2, P())), put(xb, P('d')), put(yb, P('d')))
    np.testing.assert_allclose(np.asarray(step(*args)), REC['dp_loss']['value'], rtol=1e-5)
    with jax.set_mesh(mesh):
        g = jax.jit(jax.grad(step))(*args)
    _check('dp_grad_W1', g[0], spec=False)
    _check('dp_grad_W2', g[1], spec=False)
    np.testing.assert_allclose(np.asarray(step(*args)), REC['ref_loss']['value'], rtol=1e-5)


def test_tensor_parallel_mlp():
    # Megatron-style: W1 split on its output (hidden) axis, W2 on its input axis, one
    # psum of the partial products: no device ever holds a whole weight.
    W1, W2, xb, yb = _mlp()
    mesh = jax.make_mesh((4,), ('m',))

    def tp_loss(a, b, x, y):
        assert a.shape == (6, 2) and b.shape == (2, 3)
        z = lax.psum(jnp.tanh(x @ a) @ b, 'm')
        return jnp.mean((z - y) ** 2)
    specs = (P(None, 'm'), P('m'), P(), P())
    f = jax.shard_map(tp_loss, mesh=mesh, in_specs=specs, out_specs=P())
    args = [jax.device_put(v, NamedSharding(mesh, s)) for v, s in zip((W1, W2, xb, yb), specs)]
    np.testing.assert_allclose(np.asarray(f(*args)), REC['tp_loss']['value'], rtol=1e-5)
    g = jax.grad(f, argnums=(0, 1))(*args)
    _check('tp_grad_W1', g[0], spec=False)
    _check('tp_grad_W2', g[1], spec=False)


def test_grad_vmap_and_scan_through_shard_map():
    mesh = jax.make_mesh((4, 2), ('x', 'y'))
    f = jax.shard_map(lambda a: lax.psum(jnp.sin(a).sum(), ('x', 'y')), mesh=mesh,
                      in_specs=P('x', 'y'), out_specs=P())
    xs = jax.device_put(_x(), NamedSharding(mesh, P('x', 'y')))
    _check('grad_through', jax.grad(f)(xs), spec=False)
    _check('jit_sm', jax.jit(f)(xs), spec=False)
    auto = jax.make_mesh((4, 2), ('x', 'y'), axis_types=(AxisType.Auto,) * 2)
    v = jax.vmap(jax.shard_map(lambda a: lax.psum(a, 'x'), mesh=auto, in_specs=P('x'),
                               out_specs=P()))(_x().reshape(2, 4, 4))
    _check('vmap_sm', v, spec=False)

    def body(c, a):
        return c + lax.psum(a, 'x'), c
    r = _run(lambda a: lax.scan(body, jnp.zeros(a.shape[1:]), a)[0], P(None, 'x'), P(),
             _x().T.reshape(4, 8)[:, :4] * 1.0)
    _check('scan_psum', r, spec=False)


def test_sharded_values_flow_between_calls_without_a_gather():
    mesh = jax.make_mesh((4, 2), ('x', 'y'))
    f = jax.shard_map(lambda a: a * 2 + lax.axis_index('y'), mesh=mesh,
                      in_specs=P('x', 'y'), out_specs=P('x', 'y'))
    x = jax.device_put(_x(), NamedSharding(mesh, P('x', 'y')))
    y = f(f(x))
    assert y._whole is None and x._whole is None      # nothing was assembled
    ref = (np.asarray(_x()) * 2 + np.repeat([[0, 0, 1, 1]], 8, 0)) * 2 + \
        np.repeat([[0, 0, 1, 1]], 8, 0)
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-6)
    assert f.trace_count == 1


def test_device_put_layout_and_shards():
    mesh = jax.make_mesh((4, 2), ('x', 'y'))
    s = NamedSharding(mesh, P('x'))
    x = jax.device_put(np.arange(24.).reshape(8, 3), s)
    assert x.sharding == s and not x.is_fully_replicated
    assert s.shard_shape((8, 3)) == (2, 3)
    shards = x.addressable_shards
    assert len(shards) == 8
    assert [sh.replica_id for sh in shards] == [0, 1] * 4      # y replicates each block
    assert shards[2].index == (slice(2, 4), slice(None)) and shards[2].device is mesh.devices[1, 0]
    np.testing.assert_array_equal(np.asarray(shards[3].data), np.arange(24.).reshape(8, 3)[2:4])
    assert all(sh.data.device is sh.device for sh in shards)
    np.testing.assert_array_equal(np.asarray(x + 1), np.arange(24.).reshape(8, 3) + 1)
    r = jax.device_put(np.ones(4), NamedSharding(mesh, P()))
    assert r.is_fully_replicated
    back = jax.make_array_from_single_device_arrays(
        (8, 3), s, [sh.data for sh in x.addressable_shards])
    np.testing.assert_array_equal(np.asarray(back), np.asarray(x))
    cb = jax.make_array_from_callback((8, 3), s, lambda idx: np.arange(24.).reshape(8, 3)[idx])
    np.testing.assert_array_equal(np.asarray(cb), np.asarray(x))
    y = jax.reshard(x, NamedSharding(mesh, P(None, None)))
    assert y.sharding.spec == P(None, None)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))


def test_mesh_and_spec_basics(capsys):
    mesh = jax.make_mesh((4, 2), ('x', 'y'))
    assert mesh.shape == {'x': 4, 'y': 2} and mesh.size == 8
    assert mesh.axis_types == (AxisType.Explicit,) * 2            # as jax.make_mesh
    assert Mesh(mesh.devices, ('x', 'y')).axis_types == (AxisType.Auto,) * 2
    assert repr(P('x', None)) == "P('x', None)" and P('x') == P('x', None)
    assert jax.P is P
    with jax.set_mesh(mesh):
        assert jax.sharding.get_mesh() is mesh
    assert jax.sharding.get_mesh() is None
    assert jax.debug.visualize_array_sharding(
        jax.device_put(np.zeros((8, 4)), NamedSharding(mesh, P('x', 'y')))) is None
    text = capsys.readouterr().out
    kind = 'GPU' if jax.devices()[0].platform == 'gpu' else 'CPU'
    assert f'{kind} 0' in text and f'{kind} 7' in text and text.count('┼') == 3


def test_errors():
    mesh = jax.make_mesh((4, 2), ('x', 'y'))
    with pytest.raises(ValueError, match='divisible by 4'):
        jax.device_put(np.zeros(6), NamedSharding(mesh, P('x')))
    with pytest.raises(ValueError, match='not found in mesh'):
        NamedSharding(mesh, P('z'))
    with pytest.raises(ValueError, match='make_mesh.*needs 16 devices'):
        jax.make_mesh((4, 4), ('a', 'b'))
    ident = jax.shard_map(lambda a: a, mesh=mesh, in_specs=P('x', 'y'), out_specs=P('x'))
    with pytest.raises(ValueError, match="varies along mesh axes \\('y',\\)"):
        ident(jax.device_put(_x(), NamedSharding(mesh, P('x', 'y'))))
    loose = jax.shard_map(lambda a: a, mesh=mesh, in_specs=P('x', 'y'), out_specs=P('x'),
                          check_vma=False)
    assert loose(jax.device_put(_x(), NamedSharding(mesh, P('x', 'y')))).shape == (8, 2)
    with pytest.raises(ValueError, match='does not match the specs of the input'):
        jax.shard_map(lambda a: a, mesh=mesh, in_specs=P('x'), out_specs=P('x'))(_x())
    auto = jax.make_mesh((4, 2), ('x', 'y'), axis_types=(AxisType.Auto,) * 2)
    with pytest.raises(ValueError, match='not divisible by 4'):
        jax.shard_map(lambda a: a, mesh=auto, in_specs=P('x'), out_specs=P('x'))(np.zeros(6))
    with pytest.raises(ValueError, match='needs a mesh'):
        jax.shard_map(lambda a: a, in_specs=P(), out_specs=P())(np.zeros(2))


def test_control_flow_carries_its_types():
    # As in JAX: the loop's carry keeps the type it starts with. zeros_like(a) varies where
    # a does, so adding a psum keeps it varying (out_specs=P() is refused); zeros of a's
    # shape start invariant and stay so. A trip count that depends on axis_index does not
    # make the carry varying (JAX returns device 0's [0.]).
    mesh = jax.make_mesh((4, 2), ('x', 'y'), axis_types=(AxisType.Auto,) * 2)

    def loop(init):
        return jax.shard_map(lambda a: lax.fori_loop(0, 3, lambda i, c: c + lax.psum(a, ('x', 'y')),
                                                     init(a)),
                             mesh=mesh, in_specs=P('x', 'y'), out_specs=P())
    r = loop(lambda a: jnp.zeros(a.shape))(np.ones((4, 2), np.float32))
    np.testing.assert_allclose(np.asarray(r), np.full((1, 1), 24.0))
    with pytest.raises(ValueError, match="varies along mesh axes \\('x', 'y'\\)"):
        loop(jnp.zeros_like)(np.ones((4, 2), np.float32))
    trips = jax.shard_map(lambda a: lax.while_loop(lambda c: c[0] < lax.axis_index('x'),
                                                   lambda c: c + 1, jnp.zeros(1)),
                          mesh=mesh, in_specs=P('x', 'y'), out_specs=P())
    np.testing.assert_array_equal(np.asarray(trips(np.ones((4, 2), np.float32))), [0.])
