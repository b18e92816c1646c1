"""NumPy indexing, .at[] updates, take/take_along_axis and lax dynamic slices.

NumPy is the reference for values; JAX-specific behaviour (clamping, dropping, fill
values, derivative conventions) is checked against values recorded from JAX 0.10.2."""
import numpy as np
import pytest

import tinyjax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.errors import NonConcreteBooleanIndexError
from tinyjax.test_util import check_grads

A = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)

BASIC = [
    (0,), (-1,), (1, 2), (slice(1, None),), (slice(None, None, -1),), (slice(3, 0, -2),),
    (slice(None, None, 2), slice(None, None, -3)), (slice(-100, 100),), (slice(5, 1),),
    (slice(0, 0),), (None,), (None, 1), (Ellipsis,), (Ellipsis, 1), (1, Ellipsis, None),
    (Ellipsis, None, slice(None, None, -2)), (), (np.int64(1),), (np.array(1),),
    (0, slice(None), None, -1, None), (slice(1, -1), slice(None, None, -1), 2),
]

ADVANCED = [
    ([0, 1],), ((0, 1),), (np.array([1, 0, 1]),), (np.array([[0, 1], [1, 0]]),),
    (slice(None), [0, -1, 2]), (slice(None), [[0], [2]], [1, 3]),    # broadcasting arrays
    (0, slice(None), [0, 1], slice(None)),         # int + array separated by a slice
    ([0, 1], None, [0, 1]),                        # separated by None: block goes first
    ([0], Ellipsis, [0]), (slice(None), [0, 1], [1, 2]), (slice(None), [0, 1], 1),
    (None, [0, 1]), ([0, 1], [0, 1], None, slice(1, 3)), (1, 2, [0, 1]),
    (slice(None, None, -2), [[0], [2]], slice(4, 0, -3), [1, 3]),
    (True,), (False,), (True, [0, 1]), (1, True), (Ellipsis, True),
    (A[:, 0, 0, 0] > 10,), (slice(None), A[0, :, :, 0] > 30), (A > 50,),
    (np.array([], np.int32),), ([],), (np.array([], np.int32), 1), (np.zeros((2, 0), np.int32),),
    ([-2, 1], slice(None), slice(None), [-5, 4]),
]


@pytest.mark.parametrize('idx', BASIC + ADVANCED, ids=str)
def test_getitem_matches_numpy(idx):
    want = A[idx]
    got = jnp.asarray(A)[idx]
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.asarray(got), want)


@pytest.mark.parametrize('idx', [(0,), (slice(1, 2), slice(None), [1]), (Ellipsis, [0, 0]),
                                 (slice(None), slice(None, None, -1))], ids=str)
def test_getitem_size_zero_and_scalar(idx):
    z = np.zeros((3, 0, 2), np.float32)
    got = jnp.asarray(z)[idx]
    assert got.shape == z[idx].shape
    s = jnp.float32(3.0)
    assert float(s[()]) == 3.0 and s[None].shape == (1,) and s[...].shape == ()


def test_getitem_dynamic_scalar_index():
    x = jnp.asarray(A[0])
    for i in (1, -1, 2):
        np.testing.assert_array_equal(np.asarray(x[jnp.int32(i)]), A[0][i])
        np.testing.assert_array_equal(np.asarray(x[1:, jnp.int32(i)]), A[0][1:, i])
    f = lambda x, i: x[i, ::-1]
    np.testing.assert_array_equal(np.asarray(f(x, jnp.int32(-2))), A[0][-2, ::-1])
    np.testing.assert_array_equal(np.asarray(x[jnp.int32(1), [0, 1]]), A[0][1, [0, 1]])


def _prims(jaxpr):
    return [e.prim.name for e in jaxpr.eqns]


def test_basic_indexing_lowers_without_gather():
    y = jnp.zeros((3, 4))
    prims = _prims(tinyjax.make_jaxpr(lambda y: y[1:, None, 0])(y))
    assert 'gather' not in prims and 'slice' in prims and 'squeeze' in prims
    assert set(prims) <= {'slice', 'squeeze', 'reshape', 'broadcast_in_dim'}
    assert _prims(tinyjax.make_jaxpr(lambda y: y[::-1, 3:0:-2])(y)) == ['slice', 'rev']
    assert _prims(tinyjax.make_jaxpr(lambda y: y[1])(y)) == ['slice', 'squeeze']
    prims = _prims(tinyjax.make_jaxpr(lambda y, i: y[i])(y, 1))
    assert 'dynamic_slice' in prims and 'gather' not in prims
    assert 'gather' in _prims(tinyjax.make_jaxpr(lambda y, i: y[:, i])(y, jnp.array([0, 2])))


# --- out-of-bounds behaviour (values recorded from JAX 0.10.2) ------------------------
def test_getitem_out_of_bounds_clamps():
    x = jnp.arange(5.)
    np.testing.assert_array_equal(np.asarray(x[jnp.array([7, -1, -7, -6])]), [4, 4, 0, 0])
    assert float(x[7]) == 4 and float(x[-7]) == 0 and float(x[jnp.array(7)]) == 4
    y = jnp.arange(12.).reshape(3, 4)
    np.testing.assert_array_equal(np.asarray(y[3]), [8, 9, 10, 11])
    assert float(y[1, 9]) == 7
    assert float(x.at[7].get()) == 4


def test_get_fill_mode():
    x = jnp.arange(5.)
    i = jnp.array([7, -1, -5, -6])
    np.testing.assert_array_equal(np.asarray(x.at[i].get(mode='fill', fill_value=-1.)),
                                  [-1, 4, 0, -1])
    assert np.isnan(float(x.at[7].get(mode='fill')))
    assert int(jnp.arange(5).at[7].get(mode='fill')) == -2147483648
    assert int(jnp.arange(5, dtype=jnp.uint8).at[7].get(mode='fill')) == 255
    assert bool((jnp.arange(5) > 2).at[7].get(mode='fill'))
    # fill_value without mode='fill' is ignored: the default mode clamps.
    np.testing.assert_array_equal(np.asarray(x.at[jnp.array([7, -9, 1])].get(fill_value=1.)),
                                  [4, 0, 1])
    np.testing.assert_array_equal(np.asarray(x.at[jnp.array([7, -9, 1])].get(mode='drop')),
                                  [np.nan, np.nan, 1])


def test_updates_drop_out_of_bounds():
    x = jnp.arange(5.)
    np.testing.assert_array_equal(np.asarray(x.at[7].set(1.)), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(np.asarray(x.at[-6].set(1.)), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(np.asarray(x.at[jnp.array([7, -1, -6])].set(9.)),
                                  [0, 1, 2, 3, 9])
    np.testing.assert_array_equal(np.asarray(x.at[jnp.array([7, -1, -6])].set(9., mode='clip')),
                                  [9, 1, 2, 3, 9])
    np.testing.assert_array_equal(
        np.asarray(x.at[jnp.array([7, -9, 1])].set(5., mode='promise_in_bounds')), [0, 5, 2, 3, 4])


# --- .at[] updates --------------------------------------------------------------------
def test_at_updates_with_duplicates():
    i = jnp.array([1, 1, 2])
    x = jnp.arange(5.)
    cases = {
        'add': (x.at[i].add(jnp.array([1., 2., 3.])), [0, 4, 5, 3, 4]),
        'subtract': (x.at[i].subtract(1.), [0, -1, 1, 3, 4]),
        'multiply': (x.at[i].multiply(3), [0, 9, 6, 3, 4]),
        'mul': (x.at[i].mul(3), [0, 9, 6, 3, 4]),
        'divide': (x.at[i].divide(2.), [0, 0.25, 1, 3, 4]),
        'power': (x.at[i].power(2.), [0, 1, 4, 3, 4]),
        'min': (x.at[i].min(-1.), [0, -1, -1, 3, 4]),
        'max': (x.at[i].max(jnp.array([5., 7., 1.])), [0, 7, 2, 3, 4]),
        'int_power': (jnp.arange(5).at[i].power(2), [0, 1, 4, 3, 4]),
        'int_divide': (jnp.arange(5).at[i].divide(2), [0, 0.25, 1, 3, 4]),
    }
    for name, (got, want) in cases.items():
        np.testing.assert_allclose(np.asarray(got), want, err_msg=name)
    assert cases['int_divide'][0].dtype == jnp.float32
    assert cases['int_power'][0].dtype == jnp.int32


def test_at_set_matches_numpy():
    rng = np.random.default_rng(0)
    for idx in [(1,), (slice(None), [0, 2]), ([0, 1], None, slice(None, None, -2)),
                (slice(1, None), None, slice(None, None, 2)), (Ellipsis, -1), (A[0] > 20,), (1, slice(None), 2),
                ([[0], [1]], [2, 0]), (0, slice(None), [3, 1]), (0, slice(None), [3, 1], None)]:
        a = A[0].copy()
        upd = rng.normal(size=a[idx].shape).astype(np.float32)
        a[idx] = upd
        got = jnp.asarray(A[0]).at[idx].set(upd)
        np.testing.assert_array_equal(np.asarray(got), a, err_msg=str(idx))
        a = A[0].copy()
        a[idx] += 2
        np.testing.assert_array_equal(np.asarray(jnp.asarray(A[0]).at[idx].add(2)), a)


def test_at_misc():
    x = jnp.arange(5.)
    np.testing.assert_array_equal(np.asarray(x.at[::-2].set(jnp.array([1., 2., 3.]))),
                                  [3, 1, 2, 3, 1])
    np.testing.assert_array_equal(np.asarray(jnp.arange(5).at[1].set(2.7)), [0, 2, 2, 3, 4])
    y = jnp.arange(12.).reshape(3, 4).at[1:, None, ::2].add(jnp.ones((2, 1, 2)))
    np.testing.assert_array_equal(np.asarray(y), [[0, 1, 2, 3], [5, 5, 7, 7], [9, 9, 11, 11]])
    z = jnp.zeros((2, 2)).at[...].set(1.)
    assert z.dtype == jnp.float32 and not z.weak_type
    np.testing.assert_array_equal(np.asarray(z), np.ones((2, 2)))
    np.testing.assert_allclose(np.asarray(x.at[jnp.array([0, 2])].apply(jnp.sin)),
                               np.where(np.arange(5) % 2 == 0, np.sin(np.arange(5.)), np.arange(5.))
                               * (np.arange(5) != 4) + 4 * (np.arange(5) == 4), rtol=1e-6)
    # set with duplicates: one of the updates wins.
    got = float(x.at[jnp.array([1, 1])].set(jnp.array([7., 8.]))[1])
    assert got in (7., 8.)


def test_take_and_take_along_axis():
    x = jnp.arange(5.)
    i = jnp.array([7, -1, -9])
    np.testing.assert_array_equal(np.asarray(jnp.take(x, i)), [np.nan, 4, np.nan])
    np.testing.assert_array_equal(np.asarray(jnp.take(x, i, mode='clip')), [4, 0, 0])
    np.testing.assert_array_equal(np.asarray(jnp.take(x, i, mode='wrap')), [2, 4, 1])
    np.testing.assert_array_equal(np.asarray(jnp.take(jnp.arange(5), i, fill_value=3)), [3, 4, 3])
    m = np.arange(24.).reshape(2, 3, 4)
    for axis in (None, 0, 1, 2, -1):
        ind = np.array([[0, 1], [1, -1]])
        np.testing.assert_array_equal(np.asarray(jnp.take(jnp.asarray(m), ind, axis=axis)),
                                      np.take(m, ind, axis=axis))
    assert float(jnp.take(jnp.arange(6.).reshape(2, 3), 4)) == 4
    assert float(jnp.asarray(m).take(5)) == 5
    y = jnp.arange(6.).reshape(2, 3)
    np.testing.assert_array_equal(
        np.asarray(jnp.take_along_axis(y, jnp.array([[0, 5], [-1, 1]]), axis=1)), [[0, np.nan], [5, 4]])
    np.testing.assert_array_equal(
        np.asarray(jnp.take_along_axis(y, jnp.array([[0, 5], [-1, 1]]), axis=1, mode='clip')),
        [[0, 2], [5, 4]])
    np.testing.assert_array_equal(np.asarray(jnp.take_along_axis(y, jnp.array([[0, 2]]), axis=1)),
                                  [[0, 2], [3, 5]])
    np.testing.assert_array_equal(np.asarray(jnp.take_along_axis(y, jnp.array([0, 2, 1]), None)),
                                  [0, 2, 1])
    idx = np.argsort(m, axis=0)[::-1]
    np.testing.assert_array_equal(np.asarray(jnp.take_along_axis(jnp.asarray(m), idx, axis=0)),
                                  np.take_along_axis(m, idx, axis=0))


# --- derivatives ----------------------------------------------------------------------
@pytest.mark.parametrize('fn', [
    lambda x: x[1:, None, 0],
    lambda x: x[::-1, 3:0:-2],
    lambda x: x[jnp.array([0, 2, 2, -1])],
    lambda x: x[:, jnp.array([[0], [3]]), None],
    lambda x: x[jnp.array([0, 1]), jnp.array([1, 1])],
    lambda x: x[x[:, 0] > 3.0],
    lambda x: x.at[jnp.array([0, 2]), 1].set(x[1, :2] ** 2),
    lambda x: x.at[jnp.array([0, 0, 1])].add(jnp.sin(x[:, :1])),
    lambda x: x.at[:, 1:3].multiply(x[0, :2] + 1, unique_indices=True),
    lambda x: x.at[jnp.array([1, 2])].max(x[0] * 1.5),
    lambda x: x.at[jnp.array([1, 2])].min(x[0] * 1.5),
    lambda x: lax.dynamic_slice(x, (jnp.int32(1), jnp.int32(3)), (2, 2)),
    lambda x: lax.dynamic_update_slice(x, x[:2, :2] * 3, (jnp.int32(2), jnp.int32(-1))),
    lambda x: jnp.take_along_axis(x, jnp.array([[1, 0, -1, 2]]), axis=0),
])
def test_grads_finite_differences(fn, x64):
    x = np.random.default_rng(0).normal(size=(3, 4)) + np.arange(12.).reshape(3, 4)
    check_grads(lambda x: fn(jnp.asarray(x)), (x,), order=2, modes=('fwd', 'rev'))


def test_getitem_grad_oracle():
    x = jnp.array([[1., 5., 3.], [2., 2., 0.5]])
    i = jnp.array([[0, 1], [1, 1], [0, 2]])
    g = tinyjax.grad(lambda x: jnp.sin(x[i[:, 0], i[:, 1]]).sum() * x[1, ::-1].sum())(x)
    np.testing.assert_allclose(np.asarray(g), [[0.0, 1.27648, -4.454966], [0.091493, -1.781168, 0.091493]],
                               rtol=1e-5)


def test_out_of_bounds_gather_grads_oracle():
    x = jnp.array([1., 5., 3., 2.])
    i = jnp.array([7, -9, 1])
    rows = [[0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]]
    # getitem clamps forward (so does its JVP) but its transpose drops, as in JAX.
    np.testing.assert_array_equal(np.asarray(tinyjax.jacfwd(lambda x: x[i])(x)), rows)
    np.testing.assert_array_equal(np.asarray(tinyjax.jacrev(lambda x: x[i])(x)),
                                  [[0] * 4, [0] * 4, [0, 1, 0, 0]])
    np.testing.assert_array_equal(np.asarray(tinyjax.jacrev(lambda x: x.at[i].get(mode='clip'))(x)),
                                  rows)
    np.testing.assert_array_equal(
        np.asarray(tinyjax.jacrev(lambda x: x.at[i].get(mode='fill', fill_value=2.))(x)),
        [[0] * 4, [0] * 4, [0, 1, 0, 0]])
    np.testing.assert_array_equal(np.asarray(tinyjax.jacrev(lambda x: x[7])(x)), [0, 0, 0, 1])


def test_scatter_grads_oracle():
    x = jnp.array([1., 5., 3., 2.])
    idx = jnp.array([0, 0, 2, 3, 7])
    u = jnp.array([4., 4., 3., 1., 9.])
    jx, ju = tinyjax.jacrev(lambda x, u: x.at[idx].min(u), argnums=(0, 1))(x, u)
    np.testing.assert_array_equal(np.asarray(jx), np.diag([1, 1, .5, 0]))
    np.testing.assert_array_equal(np.asarray(ju), [[0] * 5, [0] * 5, [0, 0, .5, 0, 0], [0, 0, 0, 1, 0]])
    jx, ju = tinyjax.jacrev(lambda x, u: x.at[idx].max(u), argnums=(0, 1))(x, u)
    np.testing.assert_array_equal(np.asarray(jx), np.diag([0, 1, .5, 1]))
    np.testing.assert_array_equal(np.asarray(ju), [[.5, .5, 0, 0, 0], [0] * 5, [0, 0, .5, 0, 0], [0] * 5])
    jfx, jfu = tinyjax.jacfwd(lambda x, u: x.at[idx].max(u), argnums=(0, 1))(x, u)
    np.testing.assert_array_equal(np.asarray(jfx), np.diag([0, 1, .5, 1]))
    np.testing.assert_array_equal(np.asarray(jfu), np.asarray(ju))
    jx, ju = tinyjax.jacrev(lambda x, u: x.at[idx].add(u), argnums=(0, 1))(x, u)
    np.testing.assert_array_equal(np.asarray(jx), np.eye(4))
    np.testing.assert_array_equal(np.asarray(ju), [[1, 1, 0, 0, 0], [0] * 5, [0, 0, 1, 0, 0], [0, 0, 0, 1, 0]])
    g = tinyjax.grad(lambda x: x.at[idx].multiply(u).sum())(x)
    np.testing.assert_array_equal(np.asarray(g), [16, 1, 3, 1])
    g = tinyjax.grad(lambda v: x.at[jnp.array([0, 1])].multiply(v, unique_indices=True).sum())(u[:2])
    np.testing.assert_array_equal(np.asarray(g), [1, 5])
    with pytest.raises(NotImplementedError, match='unique_indices'):
        tinyjax.grad(lambda v: x.at[idx].multiply(v).sum())(u)


def test_set_grads_with_duplicates_oracle():
    x = jnp.array([1., 5., 3., 2.])
    jx, ju = tinyjax.jacrev(lambda x, u: x.at[jnp.array([0, 0, 2])].set(u), argnums=(0, 1))(
        x, jnp.array([4., 4., 3.]))
    np.testing.assert_array_equal(np.asarray(jx), np.diag([0, 1, 0, 1]))
    np.testing.assert_array_equal(np.asarray(ju), [[0, 1, 0], [0, 0, 0], [0, 0, 1], [0, 0, 0]])
    h = lambda x, u: (x.at[jnp.array([2, 0, 2])].set(u) * jnp.arange(4.)).sum()
    gx, gu = tinyjax.grad(h, argnums=(0, 1))(jnp.ones(4), jnp.array([5., 6., 7.]))
    np.testing.assert_array_equal(np.asarray(gx), [0, 1, 0, 3])
    np.testing.assert_array_equal(np.asarray(gu), [0, 0, 2])


def test_scatter_max_hessian_oracle():
    x = jnp.array([[1., 5., 3.], [2., 2., 0.5]])
    hess = tinyjax.hessian(lambda x: (x.at[0, :].max(x[1] ** 2) ** 2).sum())(x)
    want = np.zeros((2, 3, 2, 3))
    want[0, 1, 0, 1] = want[0, 2, 0, 2] = 2
    want[1, 0, 1, 0], want[1, 1, 1, 1], want[1, 2, 1, 2] = 50, 2, 2
    np.testing.assert_allclose(np.asarray(hess), want)


# --- vmap -----------------------------------------------------------------------------
def _loop(f, args, in_axes, n):
    outs = []
    for b in range(n):
        outs.append(f(*[jnp.asarray(a if ax is None else np.take(a, b, axis=ax))
                        for a, ax in zip(args, in_axes)]))
    return np.stack([np.asarray(o) for o in outs])


VMAP_FNS = {
    'get': lambda x, i: x[i],
    'get_cols': lambda x, i: x[:, i],
    'get_separated': lambda x, i: x[i, None, i],
    'get_mixed': lambda x, i: x[None, i, ::-2],
    'get_scalar': lambda x, i: x[i[0], 1:],
    'set': lambda x, i: x.at[i].set(1.0),
    'add': lambda x, i: x.at[i, ::2].add(2.0),
    'max': lambda x, i: x.at[:, i].max(0.1),
    'take_fill': lambda x, i: jnp.take(x, i, axis=1),
    'dynamic_slice': lambda x, i: lax.dynamic_slice(x, (i[0], i[1]), (2, 3)),
    'dynamic_update_slice': lambda x, i: lax.dynamic_update_slice(x, jnp.ones((2, 3)), (i[0], i[1])),
}


@pytest.mark.parametrize('name', list(VMAP_FNS))
@pytest.mark.parametrize('in_axes', [(0, 0), (0, None), (None, 0), (1, 0)], ids=str)
def test_vmap_matches_loop(name, in_axes):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5, 6)).astype(np.float32)
    i = rng.integers(-5, 5, size=(4, 3)).astype(np.int32)
    if in_axes[0] == 1:
        x = np.moveaxis(x, 0, 1)
    args = (x if in_axes[0] is not None else x[0], i if in_axes[1] is not None else i[0])
    f = VMAP_FNS[name]
    got = tinyjax.vmap(f, in_axes=in_axes)(*args)
    np.testing.assert_allclose(np.asarray(got), _loop(f, args, in_axes, 4), rtol=1e-6)


@pytest.mark.parametrize('in_axes', [(0, 0, 0), (None, 0, 0), (0, None, 0), (0, 0, None),
                                     (None, None, 0), (0, None, None), (None, 0, None)], ids=str)
@pytest.mark.parametrize('kind', ['set', 'add', 'min', 'max', 'multiply'])
def test_vmap_scatter_matches_loop(in_axes, kind):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 5, 6)).astype(np.float32)
    i = np.stack([rng.permutation(5)[:3] for _ in range(4)]).astype(np.int32)
    u = rng.normal(size=(4, 3, 6)).astype(np.float32)
    f = lambda x, i, u: getattr(x.at[i], kind)(u)
    args = [a if ax is not None else a[0] for a, ax in zip((x, i, u), in_axes)]
    got = tinyjax.vmap(f, in_axes=in_axes)(*args)
    np.testing.assert_allclose(np.asarray(got), _loop(f, args, in_axes, 4), rtol=1e-6)


def test_vmap_of_grad_of_indexing():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 5)).astype(np.float32)
    i = rng.integers(0, 5, size=(3, 2)).astype(np.int32)
    f = lambda x, i: (x.at[i].max(0.0) * x[i[0]]).sum()
    got = tinyjax.vmap(tinyjax.grad(f))(x, i)
    want = np.stack([np.asarray(tinyjax.grad(f)(jnp.asarray(x[b]), jnp.asarray(i[b])))
                     for b in range(3)])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


# --- lax dynamic slices ---------------------------------------------------------------
def test_dynamic_slice_clamps():
    x = jnp.arange(5)
    np.testing.assert_array_equal(np.asarray(lax.dynamic_slice(x, (jnp.int32(-3),), (2,))), [2, 3])
    np.testing.assert_array_equal(np.asarray(lax.dynamic_slice(x, (jnp.int16(1),), (2,))), [1, 2])
    np.testing.assert_array_equal(np.asarray(lax.dynamic_slice(x, (4,), (2,))), [3, 4])
    np.testing.assert_array_equal(
        np.asarray(lax.dynamic_update_slice(x, jnp.array([9, 9]), (10,))), [0, 1, 2, 9, 9])
    np.testing.assert_array_equal(
        np.asarray(lax.dynamic_update_slice(x, jnp.array([9]), (jnp.int32(-2),))), [0, 1, 2, 9, 4])
    assert int(lax.dynamic_slice(x, (-9,), (1,))[0]) == 0 and int(x[jnp.array(-9)]) == 0
    y = jnp.arange(10).reshape(2, 5)
    np.testing.assert_array_equal(np.asarray(lax.dynamic_index_in_dim(y, 7, axis=1)), [[4], [9]])
    np.testing.assert_array_equal(np.asarray(lax.dynamic_index_in_dim(y, 7, 1, False)), [4, 9])
    np.testing.assert_array_equal(np.asarray(lax.index_in_dim(y, -1, axis=1)), [[4], [9]])
    np.testing.assert_array_equal(np.asarray(lax.dynamic_slice_in_dim(y, -2, 2, axis=1)),
                                  [[3, 4], [8, 9]])
    np.testing.assert_array_equal(
        np.asarray(lax.dynamic_update_slice_in_dim(y, jnp.zeros((2, 2), jnp.int32), 4, 1)),
        [[0, 1, 2, 0, 0], [5, 6, 7, 0, 0]])
    np.testing.assert_array_equal(
        np.asarray(lax.dynamic_update_index_in_dim(y, jnp.array([7, 7]), 1, 1)),
        [[0, 7, 2, 3, 4], [5, 7, 7, 8, 9]])
    with pytest.raises(IndexError, match='index 7 is out of bounds for axis 1 with size 5'):
        lax.index_in_dim(y, 7, axis=1)


def test_dynamic_slice_grads_oracle():
    x = jnp.array([1., 5., 3., 2.])
    np.testing.assert_array_equal(np.asarray(tinyjax.jacrev(
        lambda x: lax.dynamic_slice(x, (3,), (2,)))(x)), [[0, 0, 1, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(np.asarray(tinyjax.jacrev(
        lambda x: lax.dynamic_update_slice(x, jnp.ones(2), (3,)))(x)), np.diag([1, 1, 0, 0]))
    np.testing.assert_array_equal(np.asarray(tinyjax.jacrev(
        lambda u: lax.dynamic_update_slice(x, u, (3,)))(jnp.ones(2))), [[0, 0], [0, 0], [1, 0], [0, 1]])


def test_lax_gather_scatter_simple_form():
    x = jnp.arange(12.).reshape(3, 4)
    idx = jnp.array([[2, 1], [0, 3]])
    np.testing.assert_array_equal(np.asarray(lax.gather(x, idx, (0, 1))), [9, 3])
    np.testing.assert_array_equal(np.asarray(lax.gather(x, idx[:, :1], (1,))), [[2, 6, 10], [0, 4, 8]])
    out = lax.scatter_add(jnp.zeros((3, 4)), idx, jnp.array([1., 2.]), (0, 1))
    assert float(out[2, 1]) == 1 and float(out[0, 3]) == 2 and float(out.sum()) == 3


# --- errors ---------------------------------------------------------------------------
def test_index_errors():
    x = jnp.arange(5.)
    y = jnp.arange(12.).reshape(3, 4)
    with pytest.raises(TypeError, match='non-tuple sequence'):
        x[[0, 1]]
    with pytest.raises(TypeError, match='Indexer must have integer or boolean type'):
        x[1.0]
    with pytest.raises(TypeError, match='Indexer must have integer or boolean type'):
        x[jnp.array([1.0])]
    with pytest.raises(TypeError, match='string indexing'):
        x['a']
    with pytest.raises(IndexError, match='valid indices'):
        x[object()]
    with pytest.raises(IndexError, match='Too many indices'):
        x[0, 0]
    with pytest.raises(IndexError, match='single ellipsis'):
        x[..., ...]
    with pytest.raises(ValueError, match='slice step cannot be zero'):
        x[1:3:0]
    with pytest.raises(TypeError):
        x[0:2.5]
    with pytest.raises(IndexError, match='boolean index did not match'):
        y[jnp.array([True, False])]
    with pytest.raises(IndexError, match='out of bounds for axis 0 with size 0'):
        jnp.zeros((0, 3))[0]
    with pytest.raises(ValueError, match='Unknown scatter mode'):
        x.at[0].set(1., mode='foo')
    with pytest.raises(ValueError, match='Unknown gather mode'):
        x.at[0].get(mode='wrap')
    with pytest.raises(ValueError):
        x.at[1:3].set(jnp.array([1., 2., 3.]))
    with pytest.raises(ValueError, match='fewer dimensions'):
        y.at[0].set(jnp.ones((1, 4)))
    with pytest.raises(ValueError, match='integer type'):
        jnp.take(x, jnp.array([1.]))
    with pytest.raises(NotImplementedError, match="'raise' mode"):
        jnp.take(x, jnp.array([1]), mode='raise')


def test_traced_index_errors():
    x = jnp.arange(5.)
    with pytest.raises(NonConcreteBooleanIndexError, match='must be concrete') as info:
        tinyjax.make_jaxpr(lambda x: x[x > 2])(x)
    assert isinstance(info.value, IndexError)
    with pytest.raises(IndexError, match='Slice entries must be static integers'):
        tinyjax.make_jaxpr(lambda x, i: x[i:])(x, 1)
    # Concrete masks work under grad (values are known while differentiating).
    g = tinyjax.grad(lambda x: (x[x > 2] ** 2).sum())(x)
    np.testing.assert_array_equal(np.asarray(g), [0, 0, 0, 6, 8])


def test_at_apply_runs_func_once_per_update_like_jax():
    # Values recorded from JAX 0.10.2: a repeated index gets func applied once per update.
    idx = jnp.array([0, 0, 1])
    np.testing.assert_array_equal(np.asarray(jnp.zeros(3).at[idx].apply(lambda v: v + 1)),
                                  [2., 1., 0.])
    np.testing.assert_array_equal(np.asarray(jnp.ones(3).at[idx].apply(lambda v: v * 3)),
                                  [9., 3., 1.])
    np.testing.assert_array_equal(np.asarray(jnp.arange(3).at[jnp.array([2, 2])].apply(
        lambda v: v * 2)), [0, 1, 8])
    np.testing.assert_array_equal(np.asarray(jnp.ones(3).at[jnp.array([0, 5])].apply(
        lambda v: v * 2, mode='drop')), [2., 1., 1.])
    np.testing.assert_array_equal(np.asarray(jnp.ones(3).at[1:].apply(lambda v: v * 2)),
                                  [1., 2., 2.])
    # Traced indices: the repeat count is only known at run time (a while_loop).
    f = tinyjax.jit(lambda x, i: x.at[i].apply(jnp.sin).sum())
    np.testing.assert_allclose(float(f(jnp.ones(3), jnp.array([0, 0, 2]))), 2.587095, rtol=1e-6)
    np.testing.assert_allclose(float(f(jnp.ones(3), jnp.array([1, 1, 1]))),
                               2 + np.sin(np.sin(np.sin(1.0))), rtol=1e-6)
