"""Autodiff inside shard_map bodies follows JAX's typing of values by the mesh axes they
vary along (check_vma): a replicated parameter's gradient is summed over the devices, a
psum's cotangent is not summed again, and check_vma=False keeps pmap's rules. The
programs are in tests/data/shard_map_vma.py; their values were recorded from JAX 0.10.2
on 8 CPU devices (shard_map_jax.json, keys 'vma' and 'vma_types'). Each runs eagerly (an
SpmdProgram over the mesh devices) and under jit (the typed body under nested vmaps).
"""
import json
import pathlib
import sys

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.sharding import AxisType, PartitionSpec as P

DATA = pathlib.Path(__file__).parent / 'data'
sys.path.insert(0, str(DATA))
import shard_map_vma  # noqa: E402

REC = json.loads((DATA / 'shard_map_jax.json').read_text())
pytestmark = pytest.mark.usefixtures('eight_cpus')     # conftest: 8 CPU devices


@pytest.mark.parametrize('name', sorted(REC['vma']))
def test_matches_jax_eager_and_under_jit(name):
    f, args = shard_map_vma.programs(jax, jnp, lax, P, AxisType)[name]
    want = REC['vma'][name]
    for run in (f, jax.jit(f)):
        got = np.asarray(run(*args))
        assert list(got.shape) == want['shape']
        np.testing.assert_allclose(got, np.asarray(want['value'], np.float32),
                                   rtol=2e-5, atol=2e-6)


def test_types_inside_the_body_print_as_jax():
    assert shard_map_vma.types(jax, jnp, lax, P, AxisType) == REC['vma_types']


def _mesh1():
    return jax.make_mesh((4,), ('i',), axis_types=(AxisType.Auto,))


def test_data_parallel_gradient_is_summed_and_replicated():
    # grad inside the body of a replicated parameter: JAX's value is the full-batch
    # gradient (the per-device gradients summed), the same on every device.
    x, w = shard_map_vma.X, shard_map_vma.W
    full = jax.grad(lambda w: jnp.sum(jnp.tanh(x @ w)))(w)
    g = jax.shard_map(lambda w, x: jax.grad(lambda w: jnp.sum(jnp.tanh(x @ w)))(w),
                      mesh=_mesh1(), in_specs=(P(), P('i')), out_specs=P())(w, x)
    np.testing.assert_allclose(np.asarray(g), np.asarray(full), rtol=1e-5, atol=1e-6)
    blocks = [np.asarray(s.data) for s in g.addressable_shards]
    assert all(np.array_equal(b, blocks[0]) for b in blocks)


def test_pvary_pcast_and_typeof():
    seen = {}

    def body(w, x):
        v = lax.pvary(w, 'i')
        seen['w'], seen['v'], seen['x'] = jax.typeof(w).vma, jax.typeof(v).vma, jax.typeof(x).vma
        seen['mat'] = jax.typeof(lax.pcast(w, ('i',), to='varying')).mat.varying
        seen['mat_long'] = jax.typeof(x).manual_axis_type.varying    # JAX 0.10.2's name
        with pytest.raises(ValueError, match='already varies along'):
            lax.pvary(x, 'i')
        with pytest.raises(ValueError, match="to='varying'"):
            lax.pcast(w, 'i', to='reduced')
        return v * 2.0
    out = jax.shard_map(body, mesh=_mesh1(), in_specs=(P(), P('i')), out_specs=P('i'))(
        np.ones(2, np.float32), np.ones(8, np.float32))
    np.testing.assert_array_equal(np.asarray(out), np.full(8, 2.0))
    assert seen == {'w': frozenset(), 'v': {'i'}, 'x': {'i'}, 'mat': {'i'}, 'mat_long': {'i'}}


def test_psum_of_a_replicated_value_and_mixed_axes():
    mesh = jax.make_mesh((4, 2), ('x', 'y'), axis_types=(AxisType.Auto,) * 2)
    f = jax.shard_map(lambda w: lax.psum(w, ('x', 'y')), mesh=mesh, in_specs=P(), out_specs=P())
    np.testing.assert_array_equal(np.asarray(f(np.ones(3, np.float32))), np.full(3, 8.0))
    # JAX refuses a psum over axes along some of which the value varies and some not.
    g = jax.shard_map(lambda x: lax.psum(x, ('x', 'y')), mesh=mesh, in_specs=P('x'),
                      out_specs=P())
    with pytest.raises(ValueError, match='one of varying, unreduced, reduced or invarying'):
        g(np.ones((8, 2), np.float32))


def test_loop_and_branch_types_must_agree():
    # JAX's errors: a carry that starts replicated and becomes varying, branches that
    # disagree; pcast of the initial value is the fix JAX suggests.
    x, w = shard_map_vma.X, shard_map_vma.W[0, :2]

    def carry_becomes_varying(w, x):
        return lax.scan(lambda c, r: (c * r[:2], None), w, x)[0]
    f = jax.shard_map(carry_becomes_varying, mesh=_mesh1(), in_specs=(P(), P('i')),
                      out_specs=P('i'))
    with pytest.raises(TypeError, match="(?s)manual axis types do not match.*pcast"):
        f(w, x)
    fixed = jax.shard_map(lambda w, x: carry_becomes_varying(lax.pcast(w, 'i', to='varying'), x),
                          mesh=_mesh1(), in_specs=(P(), P('i')), out_specs=P('i'))
    want = np.concatenate([w * np.prod(x[2 * k:2 * k + 2, :2], 0) for k in range(4)])
    np.testing.assert_allclose(np.asarray(fixed(w, x)), want, rtol=1e-6)
    branches = jax.shard_map(lambda w, x: lax.cond(x[0, 0] > 0, lambda: w, lambda: x[0, :2]),
                             mesh=_mesh1(), in_specs=(P(), P('i')), out_specs=P('i'))
    with pytest.raises(TypeError, match='cond branches must have equal output types'):
        branches(w, x)


def test_pmap_and_shard_map_keep_their_programs_with_the_function():
    # As jit's: a pmap or shard_map made inline in a loop traces once per signature.
    traces = []

    def f(a):
        traces.append(1)
        return lax.psum(a * 2.0, 'i')
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    for _ in range(3):
        out = jax.pmap(f, axis_name='i', devices=jax.devices()[:4])(x)
    np.testing.assert_allclose(np.asarray(out), np.tile(x.sum(0) * 2, (4, 1)))
    assert len(traces) == 1
    for _ in range(3):
        out = jax.shard_map(f, mesh=_mesh1(), in_specs=P('i'), out_specs=P())(x)
    np.testing.assert_allclose(np.asarray(out), x.reshape(4, 1, 2).sum(0) * 2)
    assert len(traces) == 2
    jax.clear_caches()
    jax.pmap(f, axis_name='i', devices=jax.devices()[:4])(x)
    assert len(traces) == 3
