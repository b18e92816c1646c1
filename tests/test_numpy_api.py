"""tinyjax.numpy against NumPy: creation, reductions, manipulation, products, Array API."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp


def _r(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def close(a, b, tol=1e-5):
    a = np.asarray(a)
    assert a.shape == np.shape(b), (a.shape, np.shape(b))
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_creation():
    close(jnp.zeros((2, 3)), np.zeros((2, 3)))
    assert jnp.zeros((2, 3)).dtype == jnp.float32
    close(jnp.ones(4, jnp.int32), np.ones(4))
    assert jnp.ones(4, jnp.int32).dtype == jnp.int32
    close(jnp.full((2, 2), 7.5), np.full((2, 2), 7.5))
    x = jnp.asarray(_r(2, 3))
    assert jnp.zeros_like(x).shape == (2, 3) and jnp.ones_like(x, dtype=jnp.int32).dtype == jnp.int32
    close(jnp.full_like(x, 3), np.full((2, 3), 3))
    close(jnp.arange(5), np.arange(5))
    close(jnp.arange(1, 10, 3), np.arange(1, 10, 3))
    close(jnp.arange(0.0, 1.0, 0.25), np.arange(0, 1, 0.25))
    assert jnp.arange(0.0, 1.0, 0.25).dtype == jnp.float32
    close(jnp.linspace(0, 1, 5), np.linspace(0, 1, 5))
    close(jnp.linspace(0, 1, 5, endpoint=False), np.linspace(0, 1, 5, endpoint=False))
    close(jnp.linspace(jnp.asarray([0.0, 1.0]), 2.0, 3, axis=1), np.linspace([0.0, 1.0], 2.0, 3, axis=1))
    close(jnp.eye(3), np.eye(3))
    close(jnp.eye(3, 4, k=1), np.eye(3, 4, k=1))
    close(jnp.identity(2), np.identity(2))
    close(jnp.tri(3, k=-1), np.tri(3, k=-1))
    a = _r(3, 3)
    close(jnp.tril(a), np.tril(a))
    close(jnp.triu(a, 1), np.triu(a, 1))
    close(jnp.array([[1, 2], [3, 4]]), np.array([[1, 2], [3, 4]]))
    assert jnp.array([1, 2.0]).dtype == jnp.float32
    # As in JAX: Python scalars stay weakly typed through array() and full(); bools never are.
    assert jnp.array(1.0).weak_type and jnp.asarray(1.0).weak_type and not jnp.array(True).weak_type
    assert jnp.full(2, 3.0).weak_type and not jnp.full(2, 3.0, jnp.float32).weak_type
    s = jnp.array([x[0], x[1]])
    close(s, np.asarray(x))


@pytest.mark.parametrize('fn', ['sum', 'prod', 'max', 'min', 'mean', 'var', 'std', 'argmax',
                                'argmin', 'all', 'any', 'ptp'])
@pytest.mark.parametrize('axis', [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize('keepdims', [False, True])
def test_reductions(fn, axis, keepdims):
    x = _r(2, 3, 4, seed=1)
    if fn in ('all', 'any'):
        x = x > 0
    if fn in ('argmax', 'argmin') and isinstance(axis, tuple):
        pytest.skip('argmax takes one axis')
    got = getattr(jnp, fn)(jnp.asarray(x), axis=axis, keepdims=keepdims)
    want = getattr(np, fn)(x, axis=axis, keepdims=keepdims)
    close(got, want, 1e-5)
    if fn in ('argmax', 'argmin'):
        assert got.dtype == jnp.int32


def test_reduction_dtypes_and_options():
    i = jnp.arange(5, dtype=jnp.int8)
    assert jnp.sum(i).dtype == jnp.int32
    assert jnp.sum(jnp.asarray([True, True])).dtype == jnp.int32
    assert jnp.mean(jnp.arange(4)).dtype == jnp.float32
    x = _r(3, 4, seed=2)
    close(jnp.sum(x, axis=1, where=x > 0), np.sum(x, axis=1, where=x > 0))
    close(jnp.max(x, axis=0, initial=0.5), np.max(x, axis=0, initial=0.5))
    close(jnp.var(x, ddof=1), np.var(x, ddof=1))
    close(jnp.mean(x, axis=1, where=x > 0), np.mean(x, axis=1, where=x > 0))
    close(x.sum(0), x.sum(0))
    close(jnp.sum(jnp.zeros((0, 3)), axis=0), np.zeros(3))
    with pytest.raises(ValueError):
        jnp.max(jnp.zeros((0, 3)), axis=0)
    with pytest.raises(ValueError, match='out of bounds'):
        jnp.sum(jnp.ones((2, 2)), axis=2)
    close(jnp.count_nonzero(x > 0, axis=1), np.count_nonzero(x > 0, axis=1))
    close(jnp.average(x, axis=1, weights=np.arange(4.0)), np.average(x, axis=1, weights=np.arange(4.0)))


def test_manipulation():
    x = _r(2, 3, 4, seed=3)
    j = jnp.asarray(x)
    close(jnp.reshape(j, (4, -1)), x.reshape(4, -1))
    close(j.reshape(6, 4), x.reshape(6, 4))
    close(jnp.reshape(j, (4, 6), order='F'), x.reshape((4, 6), order='F'))
    close(jnp.transpose(j), x.T)
    close(jnp.transpose(j, (1, 0, 2)), x.transpose(1, 0, 2))
    close(j.T, x.T)
    close(jnp.swapaxes(j, 0, 2), np.swapaxes(x, 0, 2))
    close(jnp.moveaxis(j, 0, -1), np.moveaxis(x, 0, -1))
    close(jnp.moveaxis(j, (0, 1), (2, 0)), np.moveaxis(x, (0, 1), (2, 0)))
    close(jnp.expand_dims(j, (0, 3)), np.expand_dims(x, (0, 3)))
    close(jnp.squeeze(jnp.ones((1, 3, 1))), np.ones(3))
    close(jnp.ravel(j), x.ravel())
    close(j.flatten(), x.flatten())
    close(jnp.broadcast_to(jnp.arange(3.0), (2, 3)), np.broadcast_to(np.arange(3.0), (2, 3)))
    close(jnp.concatenate([j, j], axis=1), np.concatenate([x, x], 1))
    close(jnp.concatenate([j, j], axis=None), np.concatenate([x, x], None))
    close(jnp.stack([j, j], axis=-1), np.stack([x, x], -1))
    close(jnp.hstack([j, j]), np.hstack([x, x]))
    close(jnp.vstack([jnp.arange(3), jnp.arange(3)]), np.vstack([np.arange(3), np.arange(3)]))
    close(jnp.dstack([x[0], x[1]]), np.dstack([x[0], x[1]]))
    close(jnp.column_stack([jnp.arange(3), jnp.arange(3)]), np.column_stack([np.arange(3)] * 2))
    for got, want in zip(jnp.split(j, 2, axis=2), np.split(x, 2, axis=2)):
        close(got, want)
    for got, want in zip(jnp.split(j, [1, 3], axis=2), np.split(x, [1, 3], axis=2)):
        close(got, want)
    for got, want in zip(jnp.array_split(j, 3, axis=2), np.array_split(x, 3, axis=2)):
        close(got, want)
    close(jnp.tile(j, (2, 1, 1)), np.tile(x, (2, 1, 1)))
    close(jnp.tile(jnp.arange(3), 2), np.tile(np.arange(3), 2))
    close(jnp.repeat(j, 2, axis=1), np.repeat(x, 2, axis=1))
    close(jnp.repeat(j, 3), np.repeat(x, 3))
    close(jnp.flip(j, (0, 2)), np.flip(x, (0, 2)))
    close(jnp.roll(j, 2, axis=2), np.roll(x, 2, axis=2))
    close(jnp.roll(j, -1), np.roll(x, -1))
    close(jnp.rot90(x[0]), np.rot90(x[0]))
    close(jnp.atleast_2d(jnp.arange(3)), np.atleast_2d(np.arange(3)))
    for mode in ('constant', 'edge', 'wrap', 'reflect', 'symmetric'):
        close(jnp.pad(j, ((1, 2), (0, 1), (2, 0)), mode=mode), np.pad(x, ((1, 2), (0, 1), (2, 0)), mode=mode))
    close(jnp.pad(j, 1, constant_values=3.0), np.pad(x, 1, constant_values=3.0))
    close(jnp.diagonal(x[0]), np.diagonal(x[0]))
    close(jnp.trace(x[0]), np.trace(x[0]))


def test_manipulation_errors():
    with pytest.raises(TypeError, match='reshape'):
        jnp.reshape(jnp.ones(6), (4, 2))
    with pytest.raises(ValueError):
        jnp.squeeze(jnp.ones((2, 3)), axis=0)
    with pytest.raises(ValueError):
        jnp.stack([jnp.ones(2), jnp.ones(3)])
    with pytest.raises(ValueError, match='equal division'):
        jnp.split(jnp.ones(5), 2)
    with pytest.raises(ValueError, match='broadcast'):
        jnp.broadcast_to(jnp.ones(3), (2, 4))


def test_products():
    a, b = _r(3, 4, seed=4), _r(4, 5, seed=5)
    close(jnp.dot(a, b), a @ b)
    close(jnp.matmul(a, b), a @ b)
    close(jnp.asarray(a) @ jnp.asarray(b), a @ b)
    v = _r(4, seed=6)
    close(jnp.dot(a, v), a @ v)
    close(jnp.matmul(v, b), v @ b)
    c = _r(2, 3, 4, seed=7)
    d = _r(2, 4, 5, seed=8)
    close(jnp.matmul(c, d), c @ d, 1e-4)
    close(jnp.matmul(c, b), c @ b, 1e-4)
    close(jnp.matmul(a, _r(6, 4, 2, seed=9)), a @ _r(6, 4, 2, seed=9), 1e-4)
    close(jnp.dot(c, b), np.dot(c, b), 1e-4)
    close(jnp.inner(v, v), np.inner(v, v), 1e-4)
    close(jnp.outer(v, v), np.outer(v, v))
    close(jnp.vdot(a, a), np.vdot(a, a), 1e-4)
    close(jnp.tensordot(c, d, axes=([1, 2], [2, 1]) if False else ([2], [1])), np.tensordot(c, d, axes=([2], [1])), 1e-4)
    close(jnp.tensordot(a, b, 1), np.tensordot(a, b, 1), 1e-4)
    close(jnp.kron(a[:2, :2], b[:2, :2]), np.kron(a[:2, :2], b[:2, :2]))
    for spec, ops in [('ij,jk->ik', (a, b)), ('bij,bjk->bik', (c, d)), ('ii->i', (a[:3, :3],)),
                      ('ij->', (a,)), ('ij->ji', (a,)), ('i,i->', (v, v)), ('ij,jk,kl->il', (a, b, _r(5, 2))),
                      ('...ij,...jk->...ik', (c, d)), ('ij,ij->i', (a, a)), ('bij->jb', (c,))]:
        close(jnp.einsum(spec, *ops), np.einsum(spec, *ops), 1e-4)
    with pytest.raises(TypeError, match=r'matmul.*\(3, 4\).*\(5, 4\)|matmul'):
        jnp.matmul(a, _r(5, 4))
    with pytest.raises(TypeError, match='dot'):
        jnp.dot(a, _r(5, 4))
    assert jnp.dot(jnp.ones((2, 2), jnp.int32), jnp.ones((2, 2), jnp.int32)).dtype == jnp.int32


def test_array_object():
    x = jnp.asarray(_r(2, 3, seed=10))
    n = np.asarray(x)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.dtype == jnp.float32
    assert len(x) == 2
    assert [r.shape for r in x] == [(3,), (3,)]
    close(-x, -n)
    close(abs(x), np.abs(n))
    close(2 - x, 2 - n)
    close(x / 2, n / 2)
    close(2 ** x, 2 ** n, 1e-5)
    close(x ** 2, n ** 2)
    close(x.astype(jnp.int32), n.astype(np.int32))
    close(x.mean(), n.mean())
    close(x.max(axis=0), n.max(axis=0))
    close(x.argmax(), n.argmax())
    close((x > 0) & (x < 1), (n > 0) & (n < 1))
    close(~(x > 0), ~(n > 0))
    i = jnp.arange(6)
    close(i % 4, np.arange(6) % 4)
    close(i // 4, np.arange(6) // 4)
    close(i << 1, np.arange(6) << 1)
    assert x.tolist() == n.tolist()
    assert float(x[0, 0]) == float(n[0, 0]) if hasattr(jnp, 'take') else True
    assert jnp.asarray(2.5).item() == 2.5
    assert int(jnp.asarray(3)) == 3 and bool(jnp.asarray(True))
    assert 'Array(' in repr(x) and 'dtype=float32' in repr(x)
    assert repr(jnp.asarray(1.0)) == 'Array(1., dtype=float32, weak_type=True)'
    with pytest.raises(TypeError):
        hash(x)
    with pytest.raises(ValueError, match='ambiguous'):
        bool(x)
    assert isinstance(x, jax.Array)
    assert np.asarray(x).dtype == np.float32
    assert (np.ones(3) + jnp.ones(3)).shape == (3,)
    assert jnp.float32(3).dtype == jnp.float32 and np.dtype(jnp.float32) == np.float32
    assert jnp.issubdtype(jnp.bfloat16, jnp.floating) and not jnp.issubdtype(jnp.int32, jnp.floating)
    assert jnp.promote_types(jnp.int8, jnp.uint8) == jnp.int16
    assert jnp.result_type(jnp.ones(2, jnp.float16), 1.0) == jnp.float16


def test_make_jaxpr_listing():
    text = str(jax.make_jaxpr(jnp.tanh)(jnp.ones((3, 4))))
    assert text == '{ lambda ; a:f32[3,4]. let b:f32[3,4] = tanh a in (b,) }'.replace(
        'let b', 'let\n    b').replace(' in (b', '\n  in (b')
    text = str(jax.make_jaxpr(lambda x: x * 2.0)(jnp.ones(3)))
    assert 'mul a 2.0:f32[]' in text


def test_concretization_error_names_function_and_fix():
    def f(x):
        return x if x > 0 else -x
    with pytest.raises(jax.errors.ConcretizationTypeError, match=r'`f`.*\n.*jnp.where'):
        jax.make_jaxpr(f)(1.0)
    with pytest.raises(TypeError):            # it is a TypeError, as in JAX
        jax.make_jaxpr(f)(1.0)
    with pytest.raises(jax.errors.TracerArrayConversionError):
        jax.make_jaxpr(lambda x: np.asarray(x))(1.0)


def test_leaked_tracer_is_reported():
    leaked = []
    jax.make_jaxpr(lambda x: leaked.append(x) or x)(1.0)
    with pytest.raises(jax.errors.UnexpectedTracerError, match='escaped'):
        jax.make_jaxpr(lambda y: y + leaked[0])(1.0)


def test_tree_util_basics():
    tree = {'b': (1, [2, None]), 'a': jnp.ones(2)}
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    assert len(leaves) == 3 and leaves[1] == 1
    back = jax.tree_util.tree_unflatten(treedef, leaves)
    assert back['b'][1][1] is None
    doubled = jax.tree_util.tree_map(lambda a, b: a + b, tree, tree)
    assert doubled['b'][0] == 2
