"""jit on arrays laid out over a mesh: the graph partitioned into one per-device graph
with collectives (transforms/partition.py), on 8 CPU devices.

Values and result shardings recorded from JAX 0.10.2 (tests/data/shard_map_jax.json,
key 'jit'): a data-parallel and a Megatron-style tensor-parallel MLP gradient, and
reductions, transposes and out_shardings on a 2-D mesh.
"""
import json
import pathlib

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import errors
from tinyjax.sharding.arrays import GlobalArray
from tinyjax.sharding import AxisType, NamedSharding, PartitionSpec as P

REC = json.loads((pathlib.Path(__file__).parent / 'data' / 'shard_map_jax.json').read_text())['jit']
MLP = json.loads((pathlib.Path(__file__).parent / 'data' / 'shard_map_jax.json').read_text())[
    'mlp_inputs']


pytestmark = pytest.mark.usefixtures('eight_cpus')     # conftest: 8 CPU devices


def _check(name, r):
    want = REC[name]
    np.testing.assert_allclose(np.asarray(r), np.asarray(want['value'], np.float32),
                               rtol=1e-5, atol=1e-6)
    assert isinstance(r, GlobalArray)
    assert r.sharding.spec == P(*want['spec'])


def _params():
    k = np.random.RandomState(0)
    W1 = k.randn(6, 8).astype(np.float32) * .3
    W2 = k.randn(8, 3).astype(np.float32) * .3
    b1 = k.randn(8).astype(np.float32) * .1
    xb = k.randn(16, 6).astype(np.float32)
    yb = k.randn(16, 3).astype(np.float32)
    np.testing.assert_array_equal(W1, np.asarray(MLP['W1'], np.float32))   # same draw as JAX's
    return W1, b1, W2, xb, yb


def _loss(p, x, y):
    h = jnp.tanh(x @ p[0] + p[1])
    return jnp.mean((h @ p[2] - y) ** 2)


def _collectives(fn):
    """The primitives of the per-device graph the last sharded call ran."""
    entry, = fn._cache.values()
    (program, _), = entry.sharded.values()
    return {e.prim.name for e in program.graph.eqns}


def test_data_parallel_step_is_local_kernels_and_an_all_reduce():
    W1, b1, W2, xb, yb = _params()
    mesh = jax.make_mesh((8,), ('d',))
    put = lambda v, s: jax.device_put(v, NamedSharding(mesh, s))
    step = jax.jit(jax.value_and_grad(_loss))
    loss, g = step((put(W1, P()), put(b1, P()), put(W2, P())), put(xb, P('d')), put(yb, P('d')))
    _check('dp_loss', loss)
    for name, v in zip(('dp_gW1', 'dp_gb1', 'dp_gW2'), g):
        _check(name, v)
    prims = _collectives(step)
    assert 'psum' in prims and 'all_gather' not in prims      # no full array is gathered
    # The blocks on each device are what the partitioned program computed there.
    assert all(s.data.shape == (6, 8) for s in g[0].addressable_shards)


def test_tensor_parallel_mlp_keeps_weights_split():
    W1, b1, W2, xb, yb = _params()
    mesh = jax.make_mesh((4,), ('m',), axis_types=(AxisType.Auto,))
    put = lambda v, s: jax.device_put(v, NamedSharding(mesh, s))
    p = (put(W1, P(None, 'm')), put(b1, P('m')), put(W2, P('m', None)))
    step = jax.jit(jax.value_and_grad(_loss))
    loss, g = step(p, put(xb, P()), put(yb, P()))
    _check('tp_loss', loss)
    for name, v in zip(('tp_gW1', 'tp_gb1', 'tp_gW2'), g):
        _check(name, v)
    assert g[0].addressable_shards[0].data.shape == (6, 2)
    prims = _collectives(step)
    assert 'psum' in prims and 'all_gather' not in prims
    hidden = jax.jit(lambda p, x: jnp.tanh(x @ p[0] + p[1]))(p, put(xb, P()))
    _check('tp_hidden', hidden)


def test_2d_mesh_reductions_transpose_and_out_shardings():
    mesh = jax.make_mesh((4, 2), ('x', 'y'))
    a = jax.device_put(np.arange(32., dtype=np.float32).reshape(8, 4), NamedSharding(mesh, P('x', 'y')))
    _check('2d_sum0', jax.jit(lambda a: a.sum(0))(a))
    _check('2d_max1', jax.jit(lambda a: jnp.max(jnp.sin(a), axis=1))(a))
    _check('2d_T', jax.jit(lambda a: (a * 2).T)(a))
    f = jax.jit(lambda a: a + 1, out_shardings=NamedSharding(mesh, P(None, 'x')))
    _check('2d_outsh', f(a))


def test_in_shardings_and_replicated_arguments():
    mesh = jax.make_mesh((4, 2), ('x', 'y'))
    x = np.arange(32., dtype=np.float32).reshape(8, 4)
    f = jax.jit(lambda a, b: a * b + 1, in_shardings=(NamedSharding(mesh, P('x')), None))
    r = f(x, np.float32(2))
    assert r.sharding.spec == P('x') and r.addressable_shards[0].data.shape == (2, 4)
    np.testing.assert_array_equal(np.asarray(r), x * 2 + 1)
    # Ops without a partitioning rule run on whole values: same numbers.
    g = jax.jit(lambda a: jnp.cumsum(jnp.sort(a, axis=0), axis=0))
    s = g(jax.device_put(x[::-1], NamedSharding(mesh, P('x', 'y'))))
    np.testing.assert_allclose(np.asarray(s), np.cumsum(np.sort(x[::-1], axis=0), axis=0))


def test_incompatible_shardings_raise():
    mesh = jax.make_mesh((4, 2), ('x', 'y'))
    a = jax.device_put(np.zeros((8, 8), np.float32), NamedSharding(mesh, P('x')))
    b = jax.device_put(np.zeros((8, 8), np.float32), NamedSharding(mesh, P('y')))
    with pytest.raises(errors.ShardingTypeError, match='add got incompatible shardings'):
        jax.jit(lambda a, b: a + b)(a, b)
    other = jax.make_mesh((8,), ('d',))
    c = jax.device_put(np.zeros((8, 8), np.float32), NamedSharding(other, P('d')))
    with pytest.raises(ValueError, match='share one mesh'):
        jax.jit(lambda a, c: a + c)(a, c)
