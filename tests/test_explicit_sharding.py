"""Explicit-mode sharding as JAX's "Distributed arrays and automatic parallelization"
page writes it: PartitionSpecs on the current mesh, out_sharding= on products, random
and creation functions, reshard and with_sharding_constraint (an assertion on Explicit
axes), ops outside jit that keep their operands' shardings, JAX's sharding errors,
auto_axes/explicit_axes, and a data-parallel gradient whose transposed matmul contracts
the split batch. Values recorded from JAX 0.10.2 on 8 CPU devices
(tests/data/explicit_sharding_jax.json; the same `run` with `jax` in place of tinyjax).
"""
import json
import os

import numpy as np

import tinyjax

REC = json.load(open(os.path.join(os.path.dirname(__file__), 'data', 'explicit_sharding_jax.json')))



def run(jax):
    jnp, lax, P = jax.numpy, jax.lax, jax.sharding.PartitionSpec
    NS = jax.sharding.NamedSharding
    out = {}
    mesh = jax.make_mesh((4, 2), ('X', 'Y'))
    with jax.set_mesh(mesh):
        a = jax.device_put(np.arange(32., dtype=np.float32).reshape(8, 4), P(None, 'X'))
        b = jax.device_put(np.arange(64., dtype=np.float32).reshape(4, 16) / 10, P('X', None))
        out['put_spec'] = str(a.sharding.spec)
        for name, f in [('dot', lambda a, b: jnp.dot(a, b, out_sharding=P('X', None))),
                        ('matmul', lambda a, b: jnp.matmul(a, b, out_sharding=P('X', None))),
                        ('einsum', lambda a, b: jnp.einsum('ij,jk->ik', a, b, out_sharding=P('X', None))),
                        ('dot_general', lambda a, b: lax.dot_general(a, b, (((1,), (0,)), ((), ())),
                                                                     out_sharding=P(None, 'X')))]:
            r = f(a, b)
            rj = jax.jit(f)(a, b)
            out[name] = [str(r.sharding.spec), str(rj.sharding.spec), np.asarray(rj).sum().item()]
        for name, f in [('eager', lambda: jnp.dot(a, b)), ('jit', lambda: jax.jit(jnp.dot)(a, b))]:
            try:
                f()
                out['ambiguous_' + name] = 'ok'
            except Exception as e:
                out['ambiguous_' + name] = type(e).__name__
        x = jax.device_put(np.arange(32., dtype=np.float32).reshape(8, 4), P('X', 'Y'))
        out['eager_add'] = str((x + 1).sharding.spec)
        out['eager_sum0'] = [str(jnp.sin(x).sum(0).sharding.spec), np.asarray(jnp.sin(x).sum(0)).tolist()]
        out['eager_T'] = str(x.T.sharding.spec)
        c = jax.jit(lambda v: jax.reshard(v * 2, P("Y", None)))(x)
        try:
            jax.jit(lambda v: lax.with_sharding_constraint(v * 2, P("Y", None)))(x)
            out["wsc_assert"] = "ok"
        except Exception as e:
            out["wsc_assert"] = type(e).__name__
        out['wsc'] = [str(c.sharding.spec), np.asarray(c).sum().item()]
        g = jax.jit(jax.grad(lambda v: (jax.reshard(jnp.sin(v), P(None, 'X')) ** 2).sum()))(x)
        out['wsc_grad'] = [str(g.sharding.spec), np.asarray(g).tolist()]
        u = jax.device_put(np.arange(16).reshape(4, 4), P('X', None))
        v = jax.device_put(np.arange(16).reshape(4, 4), P(None, 'X'))
        try:
            u + v
            out['illegal_add'] = 'ok'
        except Exception as e:
            out['illegal_add'] = type(e).__name__

        @jax.sharding.auto_axes
        def add2(p, q):
            return p + q
        r = add2(u, v, out_sharding=P('X', None))
        out['auto_axes'] = [str(r.sharding.spec), np.asarray(r).tolist()]

        @jax.sharding.explicit_axes
        def twice(y):
            return y * 2
        r = twice(jnp.sin(x), in_sharding=P('X', 'Y'))
        out['explicit_axes'] = [str(r.sharding.spec), float(np.asarray(r).sum())]
        k = jax.random.key(0)
        r = jax.random.normal(k, (8, 4), out_sharding=P('X', 'Y'))
        out['normal'] = [str(r.sharding.spec), np.asarray(r).tolist()]
        r = jnp.zeros((8, 4), out_sharding=P('X'))
        out['zeros'] = [str(P(*r.sharding.spec, *[None] * (r.ndim - len(r.sharding.spec)))),
                        np.asarray(r).sum().item()]
        init = jax.nn.initializers.he_normal(1, 1)(jax.random.key(3), (8, 4), 'float32', P('X', None))
        out['init_out_sharding'] = [str(init.sharding.spec), np.asarray(init).tolist()]
        batch = jax.make_array_from_process_local_data(
            P(('X', 'Y')), {'a': np.arange(16).reshape(8, 2), 'b': np.ones(8, np.float32)})
        out['local_data_tree'] = [str(batch['a'].sharding.spec), str(batch['b'].sharding.spec),
                                  np.asarray(batch['a']).tolist()]
        t = jax.device_put(np.arange(8 * 3 * 4, dtype=np.float32).reshape(8, 3, 4) / 50, P('X', None, 'Y'))
        tok = jax.device_put(np.arange(16, dtype=np.int32).reshape(8, 2) % 5, P('X', None))
        emb = jax.device_put(np.linspace(-1, 1, 20, dtype=np.float32).reshape(5, 4), P())
        ops = {
            'slice': lambda t: t[:, 1, :],
            'pad': lambda t: jnp.pad(t, ((0, 0), (1, 2), (0, 0))),
            'cumsum': lambda t: jnp.cumsum(t, axis=1),
            'sort': lambda t: jnp.sort(-t, axis=1),
        }
        for name, f in ops.items():
            r = jax.jit(f)(t)
            out['rule_' + name] = [str(r.sharding.spec), np.asarray(r).tolist()]
        r = jax.jit(lambda e, i: e.at[i].get(out_sharding=P('X', None, None)))(emb, tok)
        out['rule_gather'] = [str(r.sharding.spec), np.asarray(r).tolist()]
        g = jax.jit(jax.grad(lambda e, i: jnp.sum(jnp.sin(e.at[i].get(out_sharding=P('X', None, None))) * jnp.arange(4.))))(emb, tok)
        out['rule_gather_grad'] = [str(g.sharding.spec), np.asarray(g).tolist()]
        out['abstract_mesh'] = repr(jax.sharding.get_abstract_mesh()).split(', device_kind')[0]
        # data-parallel gradient on an Explicit mesh: the transposed matmul contracts the
        # split batch dimension without any out_sharding
        w = jax.device_put(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), P())
        xb = jax.device_put(np.linspace(0, 2, 32, dtype=np.float32).reshape(8, 4), P('X', None))
        gw = jax.jit(jax.grad(lambda w, x: jnp.tanh(x @ w).sum()))(w, xb)
        out['dp_grad'] = [str(gw.sharding.spec), np.asarray(gw).tolist()]
    s = jax.device_put(jnp.ones(3)).addressable_shards
    out['single_shards'] = [len(s), str(s[0].device), str(s[0].index), s[0].replica_id]
    out['no_mesh_put'] = None
    try:
        jax.device_put(np.ones(4), P('X'))
    except Exception as e:
        out['no_mesh_put'] = type(e).__name__
    return out


def test_explicit_sharding_matches_jax(eight_cpus):
    got = run(tinyjax)
    assert set(got) == set(REC)
    if tinyjax.devices()[0].platform == 'gpu':      # recorded on the CPU
        got['single_shards'][1] = got['single_shards'][1].replace('cuda', 'cpu')
    for k, want in REC.items():
        have = got[k]
        if isinstance(want, list) and want and not isinstance(want[-1], (str, int)):
            assert have[:-1] == want[:-1], k
            np.testing.assert_allclose(np.asarray(have[-1], np.float64),
                                       np.asarray(want[-1], np.float64), rtol=2e-5, atol=1e-6,
                                       err_msg=k)
        else:
            assert have == want, (k, have, want)


def _partitioned_prims(fn):
    """The primitives of the per-device graphs a jit function's sharded calls ran."""
    return {e.prim.name for entry in fn._cache.values()
            for program, _ in entry.sharded.values() for e in program.graph.eqns}


def test_layout_rules_gather_nothing(eight_cpus):
    # slice, pad, cumsum, sort along an unsplit dimension, an embedding lookup with split
    # indices and its gradient (a scatter-add, summed over the index split): each runs on
    # the blocks, with no all_gather of a whole array.
    jnp, P = tinyjax.numpy, tinyjax.P
    mesh = tinyjax.make_mesh((4, 2), ('X', 'Y'))
    with tinyjax.set_mesh(mesh):
        t = tinyjax.device_put(np.ones((8, 3, 4), np.float32), P('X', None, 'Y'))
        tok = tinyjax.device_put(np.arange(16, dtype=np.int32).reshape(8, 2) % 5, P('X', None))
        emb = tinyjax.device_put(np.ones((5, 4), np.float32), P())
        for f in (lambda t: t[:, 1, :] * 2, lambda t: jnp.pad(t, ((0, 0), (1, 2), (0, 0))),
                  lambda t: jnp.cumsum(t, axis=1), lambda t: jnp.sort(-t, axis=1)):
            fn = tinyjax.jit(f)
            fn(t)
            assert 'all_gather' not in _partitioned_prims(fn)
        # Reshapes that move whole blocks keep the split, with JAX 0.10.2's result specs.
        for f, spec in ((lambda t: t.reshape(4, 2, 3, 4), P('X', None, None, 'Y')),
                        (lambda t: t.reshape(24, 4), P('X', 'Y'))):
            fn = tinyjax.jit(f)
            r = fn(t)
            assert r.sharding.spec == spec and 'all_gather' not in _partitioned_prims(fn)
            np.testing.assert_array_equal(np.asarray(r), f(np.ones((8, 3, 4), np.float32)))
        look = lambda e, i: jnp.sum(jnp.sin(e.at[i].get(out_sharding=P('X', None, None))))
        fn = tinyjax.jit(tinyjax.grad(look))
        fn(emb, tok)
        prims = _partitioned_prims(fn)
        assert 'all_gather' not in prims and 'psum' in prims


def test_jit_of_shard_map_runs_on_the_mesh(eight_cpus):
    # jit(shard_map(f)) runs f's body on every device (its psum a collective of the
    # partitioned program), its results laid out by out_specs, from sharded or plain
    # arguments; grad inside the body sums the replicated weight's gradient (vma typing).
    jnp, lax, P = tinyjax.numpy, tinyjax.lax, tinyjax.P
    mesh = tinyjax.make_mesh((4, 2), ('x', 'y'))
    rng = np.random.RandomState(0)
    w = rng.randn(4, 3).astype(np.float32)
    x = rng.randn(8, 4).astype(np.float32)

    def body(w, xb):
        return tinyjax.grad(lambda w: lax.psum(jnp.sum(jnp.tanh(xb @ w) ** 2), ('x', 'y')))(w)
    f = tinyjax.jit(tinyjax.shard_map(body, mesh=mesh, in_specs=(P(), P(('x', 'y'))),
                                      out_specs=P()))
    want = 2 * x.T @ (np.tanh(x @ w) * (1 - np.tanh(x @ w) ** 2))
    for args in ((w, x), (w, tinyjax.device_put(x, tinyjax.NamedSharding(mesh, P(('x', 'y')))))):
        g = f(*args)
        np.testing.assert_allclose(np.asarray(g), want, rtol=2e-5, atol=1e-5)
        assert g.sharding.mesh == mesh and g.sharding.spec == P()
    prims = _partitioned_prims(f)
    assert 'psum' in prims and 'all_gather' not in prims


def test_shard_map_takes_arguments_as_they_are_laid_out(eight_cpus):
    # On an Explicit mesh, as JAX 0.10.2: a plain array is unsplit (it matches P(), and
    # is what in_specs=None infers), a laid-out array must match its in_spec exactly.
    jnp, P = tinyjax.numpy, tinyjax.P
    mesh = tinyjax.make_mesh((8,), ('x',))
    a = jnp.arange(16.)
    cases = [(P(), a, 'ok'), (P('x'), a, 'ValueError'),
             (P(), tinyjax.device_put(a, tinyjax.NamedSharding(mesh, P('x'))), 'ValueError'),
             (P('x'), tinyjax.device_put(a, tinyjax.NamedSharding(mesh, P())), 'ValueError'),
             (None, a, 'ok')]
    for spec, x, want in cases:
        try:
            r = tinyjax.shard_map(lambda v: v * 2, mesh=mesh, in_specs=spec,
                                  out_specs=P() if spec is None else spec)(x)
            np.testing.assert_array_equal(np.asarray(r), np.arange(16.) * 2)
            got = 'ok'
        except ValueError:
            got = 'ValueError'
        assert got == want, (spec, want)


def test_collective_inside_remat_inside_jitted_shard_map(eight_cpus):
    # The global form of a shard_map (nested vmaps) batches a checkpointed function whose
    # collective is over an inner mesh axis: the batching rule of the call must know the
    # vmap's axis name (JAX's shard_map page: FSDP with tensor parallelism under remat).
    jnp, lax, P = tinyjax.numpy, tinyjax.lax, tinyjax.P
    auto = (tinyjax.sharding.AxisType.Auto,) * 2       # plain arrays are cut to in_specs
    mesh = tinyjax.make_mesh((4, 2), ('b', 'f'), axis_types=auto)
    x = np.arange(8 * 6, dtype=np.float32).reshape(8, 6) / 10

    @tinyjax.remat
    def block(v):
        return lax.psum_scatter(jnp.sin(v), 'f', scatter_dimension=1, tiled=True)

    # v is the same on both 'f' devices, so the psum_scatter sums two equal halves.
    f = tinyjax.shard_map(lambda v: lax.psum(block(v).sum(), ('b', 'f')), mesh=mesh,
                          in_specs=P('b', None), out_specs=P())
    np.testing.assert_allclose(np.asarray(f(x)), 2 * np.sum(np.sin(x)), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(tinyjax.jit(f)(x)), 2 * np.sum(np.sin(x)), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(tinyjax.jit(tinyjax.grad(f))(x)), 2 * np.cos(x),
                               rtol=1e-5, atol=1e-6)


def test_jit_arguments_carry_their_shardings(eight_cpus):
    # Inside jit a sharded argument's type has its sharding (JAX 0.10.2 prints
    # NamedSharding(mesh=AbstractMesh('X': 4, 'Y': 2, ...), spec=P('X', 'Y'))), and a
    # shard_map without in_specs takes them from it; an FSDP loss (parameters split over
    # the batch axis, gathered in a checkpointed body) and its gradient under jit match the
    # same loss on replicated values (JAX's shard_map page, on an Explicit mesh).
    jnp, lax, P = tinyjax.numpy, tinyjax.lax, tinyjax.P
    mesh = tinyjax.make_mesh((4, 2), ('X', 'Y'))
    with tinyjax.set_mesh(mesh):
        x = tinyjax.device_put(np.arange(32.).reshape(8, 4), P('X', 'Y'))
        seen = []
        tinyjax.jit(lambda v: seen.append(tinyjax.typeof(v).sharding) or v)(x)
        assert seen[0].spec == P('X', 'Y') and seen[0].mesh.shape == {'X': 4, 'Y': 2}
    rng = np.random.RandomState(0)
    W = rng.randn(8, 8).astype(np.float32) * .3
    xb = rng.randn(16, 8).astype(np.float32)
    fsdp = tinyjax.make_mesh((4,), ('batch',))
    with tinyjax.set_mesh(fsdp):
        w_split, xs = tinyjax.device_put(W, P('batch')), tinyjax.device_put(xb, P('batch'))

        @tinyjax.remat
        def predict(w_frag, v):
            return jnp.tanh(v @ lax.all_gather(w_frag, 'batch', tiled=True))

        @tinyjax.shard_map(out_specs=P())
        def loss(w_frag, v):
            return lax.pmean(jnp.mean(predict(w_frag, v) ** 2), 'batch')
        want = jnp.mean(jnp.tanh(xb @ W) ** 2)
        np.testing.assert_allclose(np.asarray(tinyjax.jit(loss)(w_split, xs)), want, rtol=1e-5)
        g = tinyjax.jit(tinyjax.grad(loss))(w_split, xs)
        want_g = tinyjax.grad(lambda w: jnp.mean(jnp.tanh(xb @ w) ** 2))(W)
        np.testing.assert_allclose(np.asarray(g), np.asarray(want_g), rtol=1e-4, atol=1e-6)
