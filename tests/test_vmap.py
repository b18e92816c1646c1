"""vmap: every primitive family against a Python loop, axis specs, composition, errors."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _loop(f, args, in_axes, out_axis=0):
    size = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
    outs = []
    for i in range(size):
        sl = [a if ax is None else np.take(a, i, axis=ax) for a, ax in zip(args, in_axes)]
        outs.append(np.asarray(f(*[jnp.asarray(s) for s in sl])))
    return np.stack(outs, axis=out_axis)


FUNCS = {
    'unary': (lambda x: jnp.tanh(x) * 2.0, 1),
    'binary_bcast': (lambda x, y: x * y + jnp.sin(x), 2),
    'reduce': (lambda x: jnp.sum(x, axis=0) + jnp.max(x), 1),
    'argmax': (lambda x: jnp.argmax(x, axis=-1), 1),
    'mean_var': (lambda x: jnp.var(x, axis=-1) + jnp.mean(x), 1),
    'reshape_T': (lambda x: jnp.reshape(x, (-1,)).reshape(x.shape[::-1]).T, 1),
    'slice_pad': (lambda x: jnp.pad(lax.slice(x, (0, 1), (2, 3)), ((1, 0), (0, 2))), 1),
    'concat': (lambda x, y: jnp.concatenate([x, y], axis=-1), 2),
    'matmul': (lambda x, y: x @ y.T, 2),
    'einsum': (lambda x, y: jnp.einsum('ij,kj->ik', x, y), 2),
    'where': (lambda x, y: jnp.where(x > y, x, y), 2),
    'broadcast': (lambda x: jnp.broadcast_to(x[None] if False else jnp.expand_dims(x, 0), (2,) + x.shape), 1),
    'flip_roll': (lambda x: jnp.roll(jnp.flip(x, 0), 1, axis=1), 1),
    'cumprod_free': (lambda x: jnp.prod(x, axis=1), 1),
    'iota': (lambda x: x + jnp.arange(x.shape[-1]), 1),
    'convert': (lambda x: (x * 10).astype(jnp.int32), 1),
}


@pytest.mark.parametrize('name', sorted(FUNCS))
@pytest.mark.parametrize('axes', ['first', 'last', 'mixed'])
def test_vmap_matches_loop(name, axes):
    f, nargs = FUNCS[name]
    base = [(_r(2, 3, seed=i)) for i in range(nargs)]
    if axes == 'first':
        in_axes = (0,) * nargs
        args = [np.stack([b + k for k in range(4)], 0) for b in base]
    elif axes == 'last':
        in_axes = (-1,) * nargs
        args = [np.stack([b + k for k in range(4)], -1) for b in base]
    else:
        in_axes = (1,) + (None,) * (nargs - 1)
        args = [np.stack([base[0] + k for k in range(4)], 1)] + base[1:]
    got = jax.vmap(f, in_axes=in_axes)(*[jnp.asarray(a) for a in args])
    norm = tuple(None if a is None else a % args[i].ndim for i, a in enumerate(in_axes))
    want = _loop(f, args, norm)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


def test_out_axes_and_pytrees():
    x = jnp.asarray(_r(4, 3))
    out = jax.vmap(lambda d: {'a': d['x'] * 2, 'b': jnp.sum(d['x'])}, in_axes=({'x': 0},),
                   out_axes={'a': 1, 'b': 0})({'x': x})
    assert out['a'].shape == (3, 4) and out['b'].shape == (4,)
    kw = jax.vmap(lambda a, b: a + b)(x, b=x)
    np.testing.assert_allclose(kw, 2 * np.asarray(x))
    ones = jax.vmap(lambda: jnp.ones(2), axis_size=3)()
    assert ones.shape == (3, 2)
    unmapped = jax.vmap(lambda a, b: b, in_axes=(0, None), out_axes=None)(x, 5.0)
    assert float(unmapped) == 5.0


def test_nested_vmap():
    x = jnp.asarray(_r(3, 4, 5))
    got = jax.vmap(jax.vmap(lambda v: jnp.sum(v * v)))(x)
    np.testing.assert_allclose(got, (np.asarray(x) ** 2).sum(-1), rtol=1e-5)
    got = jax.vmap(jax.vmap(jnp.dot, in_axes=(0, None)), in_axes=(None, 0))(
        jnp.ones((2, 3)), jnp.ones((4, 3)))
    assert got.shape == (4, 2)


def test_per_example_gradients_and_composition():
    w = jnp.asarray(_r(3, 2, seed=1))
    xs = jnp.asarray(_r(5, 3, seed=2))
    loss = lambda w, x: jnp.sum(jnp.tanh(x @ w) ** 2)
    per_ex = jax.vmap(jax.grad(loss), in_axes=(None, 0))(w, xs)
    want = np.stack([np.asarray(jax.grad(loss)(w, xs[i])) for i in range(5)])
    np.testing.assert_allclose(per_ex, want, rtol=1e-5, atol=1e-6)
    g = jax.grad(lambda w: jnp.sum(jax.vmap(loss, in_axes=(None, 0))(w, xs)))(w)
    np.testing.assert_allclose(g, want.sum(0), rtol=1e-4, atol=1e-5)
    hs = jax.vmap(jax.hessian(lambda v: jnp.sum(jnp.sin(v) * v)))(xs)
    for i in range(5):
        np.testing.assert_allclose(hs[i], jax.hessian(lambda v: jnp.sum(jnp.sin(v) * v))(xs[i]),
                                   rtol=1e-5, atol=1e-6)


def test_readme_seed_program_is_one_batched_matmul():
    def predict(params, inputs):
        for w, b in params:
            inputs = jnp.tanh(jnp.dot(inputs, w) + b)
        return inputs
    params = [(jnp.asarray(_r(4, 8, seed=3)), jnp.asarray(_r(8, seed=4))),
              (jnp.asarray(_r(8, 2, seed=5)), jnp.asarray(_r(2, seed=6)))]
    batch = jnp.asarray(_r(16, 4, seed=7))
    out = jax.vmap(predict, in_axes=(None, 0))(params, batch)
    np.testing.assert_allclose(out, predict(params, batch), rtol=1e-5, atol=1e-6)
    text = str(jax.make_jaxpr(jax.vmap(predict, in_axes=(None, 0)))(params, batch))
    assert text.count('dot_general') == 2


def test_batched_matmul_has_batch_dims():
    text = str(jax.make_jaxpr(jax.vmap(jnp.matmul))(jnp.ones((5, 2, 3)), jnp.ones((5, 3, 4))))
    assert 'dot_general' in text and '((0,), (0,))' in text


def test_collectives_in_vmap():
    x = jnp.asarray(_r(4, 3))
    xn = np.asarray(x)
    np.testing.assert_allclose(jax.vmap(lambda v: lax.psum(v, 'i'), axis_name='i')(x),
                               np.broadcast_to(xn.sum(0), xn.shape), rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(lambda v: v - lax.pmean(v, 'i'), axis_name='i')(x),
                               xn - xn.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jax.vmap(lambda v: lax.pmax(v, 'i'), axis_name='i')(x),
                               np.broadcast_to(xn.max(0), xn.shape))
    np.testing.assert_allclose(jax.vmap(lambda v: lax.pmin(v, 'i'), axis_name='i')(x),
                               np.broadcast_to(xn.min(0), xn.shape))
    g = jax.vmap(lambda v: lax.all_gather(v, 'i'), axis_name='i')(x)
    assert g.shape == (4, 4, 3)
    np.testing.assert_allclose(g[2], xn)
    np.testing.assert_array_equal(jax.vmap(lambda v: lax.axis_index('i'), axis_name='i')(x), np.arange(4))
    with pytest.raises(NameError, match='unbound axis name'):
        lax.psum(x, 'i')


def test_errors():
    with pytest.raises(ValueError, match='inconsistent sizes'):
        jax.vmap(lambda a, b: a + b)(jnp.ones(3), jnp.ones(4))
    with pytest.raises(ValueError, match='rank'):
        jax.vmap(lambda a: a, in_axes=2)(jnp.ones((3, 4)))
    with pytest.raises(ValueError):
        jax.vmap(lambda a, b: a, in_axes=(0, 0, 0))(jnp.ones(3), jnp.ones(3))
    with pytest.raises(ValueError, match='prefix'):
        jax.vmap(lambda d: d, in_axes=({'y': 0},))({'x': jnp.ones(3)})
    with pytest.raises(TypeError, match='in_axes'):
        jax.vmap(lambda a: a, in_axis=0)


def test_axis_size_of_named_axes():
    # Values as JAX 0.10.2 gives them: the size of one axis, the product of several, and
    # JAX's NameError outside any.
    import tinyjax as jax
    import tinyjax.numpy as jnp
    f = jax.vmap(lambda x: x * jax.lax.axis_size('i'), axis_name='i')
    np.testing.assert_array_equal(f(jnp.ones(3)), [3., 3., 3.])
    g = jax.vmap(jax.vmap(lambda x: x * jax.lax.axis_size(('i', 'j')), axis_name='j'),
                 axis_name='i')
    np.testing.assert_array_equal(g(jnp.ones((2, 3))), np.full((2, 3), 6.))
    with pytest.raises(NameError, match='unbound axis name: zz'):
        jax.lax.axis_size('zz')
