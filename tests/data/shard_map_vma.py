"""Autodiff inside shard_map bodies (JAX's varying-manual-axes typing), evaluated by both
JAX and tinyjax: tests/test_shard_map_vma.py compares tinyjax's values, eager and under
jit, with what JAX 0.10.2 gave on 8 CPU devices, recorded under the key 'vma' of
shard_map_jax.json (and the printed types under 'vma_types').

Regenerate with (JAX's venv; it rewrites only those two keys):
  XLA_FLAGS=--xla_force_host_platform_device_count=8 /path/to/jax-venv/bin/python \
      tests/data/shard_map_vma.py
"""
import json
import pathlib

import numpy as np

X = (np.arange(32, dtype=np.float32).reshape(8, 4) / 7.0 - 2.0)
W = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(4, 3)
W6 = np.linspace(-1.0, 1.0, 24, dtype=np.float32).reshape(4, 6)
C = np.arange(32, dtype=np.float32).reshape(8, 4) / 10.0
A = np.linspace(-1.0, 1.0, 32, dtype=np.float32).reshape(4, 8)
B = np.linspace(1.0, -1.0, 24, dtype=np.float32).reshape(8, 3)


def programs(jax, jnp, lax, P, AxisType):
    """name -> (function of arrays, arguments). Every function is a shard_map (or a
    transformation of one) over a 1-D mesh ('i', 4) or a 2-D mesh ('x', 'y') = (4, 2)."""
    auto = AxisType.Auto
    m1 = jax.make_mesh((4,), ('i',), axis_types=(auto,))
    m2 = jax.make_mesh((4, 2), ('x', 'y'), axis_types=(auto, auto))

    def sm(f, mesh, i, o, **kw):
        return jax.shard_map(f, mesh=mesh, in_specs=i, out_specs=o, **kw)

    def grad_psum(x):
        return jax.grad(lambda x: lax.psum(jnp.sum(jnp.sin(x)), 'i'))(x)

    def dp(w, x):
        return jax.grad(lambda w: jnp.sum(jnp.tanh(x @ w)))(w)

    def second_order(w):
        inner = sm(lambda w, x: jnp.sum(dp(w, x) ** 2), m1, (P(), P('i')), P())
        return inner(w, jnp.asarray(X))

    def scan_body(w, x):
        def loss(w):
            c, _ = lax.scan(lambda c, r: (c * 0.5 + jnp.tanh(r @ w), None),
                            jnp.zeros_like(x[0] @ w), x)
            return jnp.sum(c)
        return jax.grad(loss)(w)

    def cond_body(w, x):
        return jax.grad(lambda w: lax.cond(jnp.sum(x) > 0.0, lambda: jnp.sum(jnp.sin(x @ w)),
                                           lambda: jnp.sum((x @ w) ** 2)))(w)

    def fori_body(w, x):
        return jax.grad(lambda w: jnp.sum(lax.fori_loop(
            0, 3, lambda i, c: jnp.tanh(c @ w[:, :1] + x), jnp.zeros_like(x))))(w)

    def tp_grads(a, b, x, y):
        # Megatron-style: hidden axis split; the psum's cotangent comes back unsummed.
        def loss(a, b):
            return jnp.mean((lax.psum(jnp.tanh(x @ a) @ b, 'i') - y) ** 2)
        return jax.grad(loss, argnums=(0, 1))(a, b)

    return {
        'tp_grad_inside_1d': (lambda *args: jnp.concatenate([g.reshape(-1) for g in sm(
            tp_grads, m1, (P(None, 'i'), P('i'), P(), P()), (P(None, 'i'), P('i')))(*args)]),
            (A, B, X, np.sin(X[:, :3]))),
        'grad_psum_1d': (sm(grad_psum, m1, P('i'), P('i')), (X,)),
        'grad_psum_1d_unchecked': (sm(grad_psum, m1, P('i'), P('i'), check_vma=False), (X,)),
        'dp_grad_1d': (sm(dp, m1, (P(), P('i')), P()), (W, X)),
        'dp_pmean_1d': (sm(lambda w, x: jax.grad(lambda w: lax.pmean(
            jnp.mean(jnp.tanh(x @ w) ** 2), 'i'))(w), m1, (P(), P('i')), P()), (W, X)),
        'all_gather_grad_1d': (sm(lambda x, c: jax.grad(lambda x: jnp.sum(
            jnp.sin(lax.all_gather(x, 'i', tiled=True)) * c))(x), m1, (P('i'), P()), P('i')),
            (X, C)),
        'psum_scatter_grad_1d': (sm(lambda w: jax.grad(lambda w: jnp.sum(
            lax.psum_scatter(w * w, 'i', tiled=True) ** 2))(w), m1, P(), P()), (C,)),
        'ppermute_grad_1d': (sm(lambda x: jax.grad(lambda x: jnp.sum(
            lax.ppermute(x, 'i', [(k, (k + 1) % 4) for k in range(4)]) * x ** 2))(x),
            m1, P('i'), P('i')), (X,)),
        'axis_index_grad_1d': (sm(lambda w: jax.grad(lambda w: jnp.sum(
            w * lax.axis_index('i')))(w), m1, P(), P()), (W[0],)),
        'grad_of_shard_map_1d': (jax.grad(sm(lambda w, x: lax.psum(jnp.sum(jnp.tanh(x @ w)), 'i'),
                                             m1, (P(), P('i')), P())), (W, X)),
        'grad_of_grad_inside_1d': (jax.grad(second_order), (W,)),
        'vmap_of_shard_map_1d': (jax.vmap(sm(dp, m1, (P(), P('i')), P()), in_axes=(0, None)),
                                 (np.stack([W, W * 2.0]), X)),
        'dp_tp_2d': (sm(dp, m2, (P(None, 'y'), P('x')), P(None, 'y')), (W6, X)),
        'psum_y_grad_2d': (sm(lambda x: jax.grad(lambda x: lax.psum(jnp.sum(x ** 3), 'y'))(x),
                              m2, P('x', 'y'), P('x', 'y')), (X,)),
        'pmean_xy_grad_2d': (sm(lambda w, x: jax.grad(lambda w: lax.pmean(
            jnp.sum(jnp.tanh(x @ w)), ('x', 'y')))(w), m2, (P(), P('x', 'y')), P()),
            (W[:2], X)),
        'scan_grad_2d': (sm(scan_body, m2, (P(), P('x')), P()), (W, X)),
        'cond_grad_2d': (sm(cond_body, m2, (P(), P('x', 'y')), P()), (W[:2], X)),
        'fori_grad_2d': (sm(fori_body, m2, (P(), P('x')), P()), (W, X)),
        'vmap_in_body_2d': (sm(lambda w, x: jax.grad(lambda w: jnp.sum(
            jax.vmap(lambda r: jnp.tanh(r @ w))(x)))(w), m2, (P(), P('x')), P()), (W, X)),
        'checkpoint_2d': (sm(lambda w, x: jax.grad(lambda w: jnp.sum(
            jax.checkpoint(lambda w: jnp.tanh(x @ w))(w)))(w), m2, (P(), P('x')), P()), (W, X)),
        'custom_jvp_2d': (sm(lambda w, x: jax.grad(lambda w: jnp.sum(
            jax.nn.softplus(x @ w)))(w), m2, (P(), P('y')), P()), (W, X)),
        'all_to_all_grad_2d': (sm(lambda x, c: jax.grad(lambda x: jnp.sum(
            lax.all_to_all(x, 'x', 1, 0, tiled=True) ** 2 * c))(x),
            m2, (P('x'), P()), P('x')), (X, C[:8, :1])),
    }


def types(jax, jnp, lax, P, AxisType):
    """The types JAX prints for values inside a body over the 2-D mesh."""
    mesh = jax.make_mesh((4, 2), ('x', 'y'), axis_types=(AxisType.Auto,) * 2)
    seen = []

    def body(w, x):
        vals = [x, w, w * x[0, 0], lax.psum(x, 'x'), lax.psum(w, ('x', 'y')), lax.axis_index('y'),
                lax.all_gather(w, 'y'), jnp.zeros_like(x), jnp.zeros(3), lax.pcast(w, 'y', to='varying')]
        seen.extend(str(jax.typeof(v)) for v in vals)
        return x
    jax.shard_map(body, mesh=mesh, in_specs=(P(), P('x')), out_specs=P('x'))(W, X)
    return seen


def record():
    import jax
    import jax.numpy as jnp
    from jax import lax
    from jax.sharding import AxisType, PartitionSpec as P
    path = pathlib.Path(__file__).parent / 'shard_map_jax.json'
    data = json.loads(path.read_text())
    out = {}
    for name, (f, args) in programs(jax, jnp, lax, P, AxisType).items():
        r = np.asarray(f(*args))
        out[name] = {'value': r.tolist(), 'shape': list(r.shape)}
    data['vma'] = out
    data['vma_types'] = types(jax, jnp, lax, P, AxisType)
    path.write_text(json.dumps(data))


if __name__ == '__main__':
    record()
