"""Sorting and cumulative ops against NumPy, plus values recorded from JAX 0.10.2 (CPU)
where JAX's behaviour is its own (NaN/zero order, tie gradients, partition layout)."""
import numpy as np
import pytest

import tinyjax
import tinyjax.numpy as jnp
from tinyjax import lax

SHAPES = [(0,), (5,), (3, 4), (2, 3, 4), (2, 0, 3)]
DTYPES = [np.float32, np.int32, np.bool_, np.float16]


def _data(rng, shape, dtype, ties=False):
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer) or ties:
        return rng.integers(-3, 4, shape).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    if x.size > 2:   # NaNs of both signs, infinities and signed zeros
        flat = x.reshape(-1)
        flat[0], flat[-1] = np.nan, -np.inf
        flat[x.size // 2] = -np.float32(np.nan)
        if x.size > 4:
            flat[1], flat[2] = -0.0, 0.0
    return x


def _axes(ndim):
    return list(range(-ndim, ndim))


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_array_equal(a, b)


# --- sort / argsort -------------------------------------------------------------------
@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('dtype', DTYPES)
def test_sort_matches_numpy(rng, shape, dtype):
    x = _data(rng, shape, dtype)
    for axis in _axes(len(shape)) + [None]:
        _same(jnp.sort(jnp.asarray(x), axis=axis), np.sort(x, axis=axis, kind='stable'))
        want = np.argsort(x, axis=axis, kind='stable').astype(np.int32)
        _same(jnp.argsort(jnp.asarray(x), axis=axis), want)


@pytest.mark.parametrize('shape', [(7,), (3, 6), (2, 3, 5)])
def test_argsort_stable_with_ties_and_descending(rng, shape):
    x = _data(rng, shape, np.int32)
    for axis in _axes(len(shape)):
        _same(jnp.argsort(jnp.asarray(x), axis=axis),
              np.argsort(x, axis=axis, kind='stable').astype(np.int32))
        # Descending keeps ties in input order: a stable sort of the negated keys.
        _same(jnp.argsort(jnp.asarray(x), axis=axis, descending=True),
              np.argsort(-x, axis=axis, kind='stable').astype(np.int32))
        _same(jnp.sort(jnp.asarray(x), axis=axis, descending=True),
              np.flip(np.sort(x, axis=axis), axis))


def test_sort_nan_and_signed_zero_order_as_jax():
    x = np.array([0.0, -0.0, np.nan, -np.nan, 1.0, -np.inf, np.inf, -0.0, 0.0, -1.0], np.float32)
    s = np.asarray(jnp.sort(jnp.asarray(x)))
    # Recorded from JAX: NaNs (either sign) last, -0.0 == 0.0 kept in input order.
    np.testing.assert_array_equal(s, [-np.inf, -1, 0, -0, -0, 0, 1, np.inf, np.nan, np.nan])
    _same(np.signbit(s), np.array([1, 1, 0, 1, 1, 0, 0, 0, 0, 1], bool))
    _same(jnp.argsort(jnp.asarray(x)), np.array([5, 9, 0, 1, 7, 8, 4, 6, 2, 3], np.int32))
    _same(jnp.argsort(jnp.asarray(x), descending=True),
          np.array([2, 3, 6, 4, 0, 1, 7, 8, 9, 5], np.int32))
    d = np.asarray(jnp.sort(jnp.asarray(np.array([np.nan, -np.nan, 1.], np.float32)), descending=True))
    _same(np.signbit(d), np.array([True, False, False]))
    _same(jnp.argsort(jnp.array([1, 0, 1, 0, 2, 1, 2]), descending=True),
          np.array([4, 6, 0, 2, 5, 1, 3], np.int32))


def test_sort_dtypes_and_weak_type():
    _same(jnp.sort(jnp.array([True, False, True])), np.array([False, True, True]))
    h = jnp.sort(jnp.asarray(np.array([2, 1, np.nan, -np.inf], np.float16)))
    _same(h, np.array([-np.inf, 1, 2, np.nan], np.float16))
    assert not jnp.sort(jnp.asarray(1.0), axis=None).weak_type
    _same(jnp.sort(jnp.asarray(np.float32(1)), axis=None), np.array([1.], np.float32))
    b = np.array([3, 1, 2], dtype=np.float32)
    assert jnp.sort(jnp.asarray(b.astype(tinyjax.dtypes.bfloat16))).dtype == tinyjax.dtypes.bfloat16


def test_sort_x64_index_dtype(x64):
    assert jnp.argsort(jnp.array([2, 1])).dtype == np.int64
    assert jnp.lexsort([jnp.array([2, 1])]).dtype == np.int64
    assert lax.top_k(jnp.array([1, 2]), 1)[1].dtype == np.int32


def test_array_methods():
    a = jnp.array([[3, 1], [2, 0]])
    _same(a.sort(axis=0), np.array([[2, 0], [3, 1]], np.int32))
    _same(a.argsort(), np.array([[1, 0], [1, 0]], np.int32))
    _same(a.cumsum(), np.array([3, 4, 6, 6], np.int32))
    _same(a.cumprod(axis=1), np.array([[3, 3], [2, 0]], np.int32))


def test_lax_sort_multi_operand(rng):
    k1, k2 = rng.integers(0, 3, (4, 9)), rng.integers(0, 3, (4, 9))
    v = rng.standard_normal((4, 9)).astype(np.float32)
    a, b, c = lax.sort((jnp.asarray(k1), jnp.asarray(k2), jnp.asarray(v)), dimension=1,
                       num_keys=2)
    perm = np.stack([np.lexsort((k2[i], k1[i])) for i in range(4)])
    _same(a, np.take_along_axis(k1, perm, 1).astype(np.int32))
    _same(b, np.take_along_axis(k2, perm, 1).astype(np.int32))
    _same(c, np.take_along_axis(v, perm, 1))
    k, val = lax.sort_key_val(jnp.array([3, 1, 2]), jnp.array([10., 20., 30.]))
    _same(k, np.array([1, 2, 3], np.int32))
    _same(val, np.array([20., 30., 10.], np.float32))
    assert isinstance(lax.sort([jnp.array([3, 1])]), tuple)
    _same(lax.sort(jnp.array([[3, 1], [0, 2]]), dimension=0), np.array([[0, 1], [3, 2]], np.int32))


def test_lexsort(rng):
    keys = [rng.integers(0, 3, 12) for _ in range(3)]
    _same(jnp.lexsort([jnp.asarray(k) for k in keys]), np.lexsort(keys).astype(np.int32))
    _same(jnp.lexsort(jnp.asarray(np.stack(keys))), np.lexsort(keys).astype(np.int32))
    m = rng.integers(0, 3, (4, 5))
    _same(jnp.lexsort((jnp.asarray(m),), axis=0), np.lexsort((m,), axis=0).astype(np.int32))


def test_top_k():
    mnan = -np.float32(np.nan)
    x = np.array([mnan, 1., np.nan, -np.inf, -0., 0.], np.float32)
    vals, idx = lax.top_k(jnp.asarray(x), 6)
    # Recorded from JAX: top_k orders floats by IEEE totalOrder (unlike sort).
    _same(idx, np.array([2, 1, 5, 4, 3, 0], np.int32))
    _same(np.signbit(np.asarray(vals)), np.signbit(x[[2, 1, 5, 4, 3, 0]]))
    vals, idx = lax.top_k(jnp.array([[1, 3, 3, 2], [5, 5, 5, 0]]), 2)
    _same(vals, np.array([[3, 3], [5, 5]], np.int32))
    _same(idx, np.array([[1, 2], [0, 1]], np.int32))


def test_partition_layout_as_jax():
    x = jnp.array([3, 1, 2, 5, 4, 0, 9, 7, 1, 3])
    recorded = {0: ([0, 9, 7, 5, 4, 3, 3, 2, 1, 1], [5, 0, 1, 2, 3, 4, 6, 7, 8, 9]),
                2: ([0, 1, 1, 9, 7, 5, 4, 3, 3, 2], [5, 1, 8, 0, 2, 3, 4, 6, 7, 9]),
                5: ([0, 1, 1, 2, 3, 3, 9, 7, 5, 4], [5, 1, 8, 2, 0, 9, 3, 4, 6, 7]),
                9: ([0, 1, 1, 2, 3, 3, 4, 5, 7, 9], [5, 1, 8, 2, 0, 9, 4, 3, 7, 6])}
    for k, (p, ap) in recorded.items():
        _same(jnp.partition(x, k), np.array(p, np.int32))
        _same(jnp.argpartition(x, k), np.array(ap, np.int32))
    _same(jnp.partition(jnp.array([[3, 1, 2, 5], [4, 0, 9, 7]]), 1, axis=0),
          np.array([[3, 0, 2, 5], [4, 1, 9, 7]], np.int32))


@pytest.mark.parametrize('kth', [0, 2, -1])
def test_partition_property(rng, kth):
    x = rng.standard_normal((3, 8)).astype(np.float32)
    for axis in (0, 1, -1):
        p = np.asarray(jnp.partition(jnp.asarray(x), kth, axis=axis))
        ap = np.asarray(jnp.argpartition(jnp.asarray(x), kth, axis=axis))
        want = np.partition(x, kth, axis=axis)
        k = kth % x.shape[axis]
        # JAX orders the two sides differently in partition and argpartition, so check
        # the partition property of each rather than equality between them.
        for q in (p, np.take_along_axis(x, ap, axis)):
            np.testing.assert_array_equal(np.take(q, [k], axis), np.take(want, [k], axis))
            assert (np.take(q, range(k), axis) <= np.take(q, [k], axis)).all()
            assert (np.take(q, range(k + 1, x.shape[axis]), axis) >= np.take(q, [k], axis)).all()
        _same(np.sort(np.take_along_axis(x, ap, axis), axis), np.sort(x, axis))


# --- searchsorted / unique ------------------------------------------------------------
@pytest.mark.parametrize('side', ['left', 'right'])
def test_searchsorted(rng, side):
    a = np.sort(np.concatenate([rng.integers(-3, 4, 10).astype(np.float32), [np.nan]]))
    v = np.array([[-5, -3, 0, 0.5], [3, 10, np.nan, -0.0]], np.float32)
    _same(jnp.searchsorted(jnp.asarray(a), jnp.asarray(v), side=side),
          np.searchsorted(a, v, side=side).astype(np.int32))
    ai = np.array([1, 2, 2, 3])
    _same(jnp.searchsorted(jnp.asarray(ai), 2, side=side),
          np.asarray(np.searchsorted(ai, 2, side=side), np.int32))
    perm = np.array([1, 2, 0])
    _same(jnp.searchsorted(jnp.array([3, 1, 2]), jnp.array([2, 3]), side=side,
                           sorter=jnp.asarray(perm)),
          np.searchsorted(np.array([3, 1, 2]), [2, 3], side=side, sorter=perm).astype(np.int32))
    _same(jnp.searchsorted(jnp.zeros((0,)), jnp.array([1., 2.]), side=side),
          np.zeros(2, np.int32))


def test_unique_matches_numpy(rng):
    x = rng.integers(0, 5, (4, 6))
    got = jnp.unique(jnp.asarray(x), return_index=True, return_inverse=True, return_counts=True)
    want = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for g, w in zip(got, want):
        _same(g, w.astype(np.int32))
    f = np.array([1., np.nan, np.nan, 1., -0., 0.], np.float32)
    _same(jnp.unique(jnp.asarray(f)), np.unique(f))
    _same(jnp.unique(jnp.asarray(f), equal_nan=False), np.unique(f, equal_nan=False))
    _same(jnp.unique(jnp.array([True, False, True])), np.array([False, True]))
    rows = np.array([[1, 2], [1, 2], [0, 5]])
    got = jnp.unique(jnp.asarray(rows), axis=0, return_inverse=True, return_counts=True)
    _same(got[0], np.array([[0, 5], [1, 2]], np.int32))
    _same(got[1], np.array([1, 1, 0], np.int32))
    _same(got[2], np.array([1, 2], np.int32))


def test_unique_size_as_jax():
    x = jnp.array([3, 1, 2, 3, 1, 5])
    _same(jnp.unique(x, size=6), np.array([1, 2, 3, 5, 1, 1], np.int32))
    _same(jnp.unique(x, size=2), np.array([1, 2], np.int32))
    u, i, inv, c = jnp.unique(x, size=6, fill_value=-1, return_index=True, return_inverse=True,
                              return_counts=True)
    _same(u, np.array([1, 2, 3, 5, -1, -1], np.int32))
    _same(i, np.array([1, 2, 0, 5, 1, 1], np.int32))
    _same(inv, np.array([2, 0, 1, 2, 0, 3], np.int32))
    _same(c, np.array([2, 1, 2, 1, 0, 0], np.int32))
    # size= makes it traceable: vmap and grad run through the sort-based algorithm.
    out = tinyjax.vmap(lambda r: jnp.unique(r, size=3))(jnp.array([[3, 1, 3, 2], [1, 1, 1, 1]]))
    _same(out, np.array([[1, 2, 3], [1, 1, 1]], np.int32))
    g = tinyjax.grad(lambda v: jnp.unique(v, size=4).sum())(jnp.array([3., 1., 3., 2.]))
    _same(g, np.array([1., 2., 0., 1.], np.float32))   # recorded from JAX
    with pytest.raises(ValueError, match='fill_value'):
        jnp.unique(jnp.zeros((0,)), size=2)


def test_unique_traced_without_size_raises():
    with pytest.raises(tinyjax.errors.ConcretizationTypeError):
        tinyjax.vmap(lambda r: jnp.unique(r))(jnp.array([[3, 1], [1, 1]]))


# --- cumulative ops -------------------------------------------------------------------
_CUM = {'cumsum': np.cumsum, 'cumprod': np.cumprod,
        'cummax': np.maximum.accumulate, 'cummin': np.minimum.accumulate}


@pytest.mark.parametrize('name', sorted(_CUM))
@pytest.mark.parametrize('shape', [(0,), (6,), (3, 4), (2, 3, 5), (2, 0, 3)])
@pytest.mark.parametrize('dtype', [np.float32, np.int32, np.float16])
def test_lax_cumulative_matches_numpy(rng, name, shape, dtype):
    x = rng.integers(-3, 4, shape).astype(dtype) if dtype == np.int32 else \
        (rng.random(shape) + 0.5).astype(dtype)
    for axis in range(len(shape)):
        for reverse in (False, True):
            got = getattr(lax, name)(jnp.asarray(x), axis=axis, reverse=reverse)
            ref = np.flip(x, axis) if reverse else x
            ref = _CUM[name](ref.astype(np.float32) if dtype == np.float16 else ref, axis=axis)
            ref = (np.flip(ref, axis) if reverse else ref).astype(dtype)
            assert got.dtype == dtype and got.shape == x.shape
            np.testing.assert_allclose(np.asarray(got, np.float64), ref.astype(np.float64),
                                       rtol=2e-3 if dtype == np.float16 else 1e-6)


def test_cumulative_nan_and_overflow():
    _same(lax.cummax(jnp.array([1., np.nan, 2.])), np.array([1., np.nan, np.nan], np.float32))
    _same(lax.cummin(jnp.array([1., np.nan, 0.])), np.array([1., np.nan, np.nan], np.float32))
    _same(lax.cumsum(jnp.asarray(np.array([100, 100], np.int8))), np.array([100, -56], np.int8))
    y = np.array([0.5, -1., 2., 2., -3.], np.float32)
    np.testing.assert_allclose(lax.cumlogsumexp(jnp.asarray(y)), np.logaddexp.accumulate(y),
                               rtol=1e-6)


def test_jnp_cumsum_dtypes_and_axis_none():
    _same(jnp.cumsum(jnp.array([True, True])), np.array([1, 2], np.int32))
    _same(jnp.cumsum(jnp.asarray(np.array([200, 100], np.uint8))), np.array([200, 44], np.uint8))
    _same(jnp.cumprod(jnp.asarray(np.array([100, 100], np.int8))), np.array([100, 16], np.int8))
    _same(jnp.cumsum(jnp.array([1.5, 2.5]), dtype=jnp.int32), np.array([1, 3], np.int32))
    _same(jnp.cumsum(jnp.array([False, True, False]), dtype=bool), np.array([False, True, True]))
    _same(jnp.cumprod(jnp.array([True, False])), np.array([1, 0], np.int32))
    _same(jnp.cumsum(jnp.array([[1, 2], [3, 4]])), np.array([1, 3, 6, 10], np.int32))
    _same(jnp.cumprod(jnp.array([[1, 2], [3, 4]]), axis=-2), np.array([[1, 2], [3, 8]], np.int32))
    s = jnp.cumsum(1.0)
    assert s.shape == (1,) and not s.weak_type
    _same(jnp.nancumsum(jnp.array([1., np.nan, 2.])), np.array([1., 1., 3.], np.float32))
    _same(jnp.nancumprod(jnp.array([[1., np.nan], [2., 3.]])), np.array([1., 1., 2., 6.], np.float32))
    _same(jnp.cumulative_sum(jnp.asarray(np.array([1, 2], np.int8))), np.array([1, 3], np.int32))
    _same(jnp.cumulative_sum(jnp.array([[1, 2], [3, 4]]), axis=1, include_initial=True),
          np.array([[0, 1, 3], [0, 3, 7]], np.int32))
    _same(jnp.cumulative_prod(jnp.array([1, 2, 3]), include_initial=True),
          np.array([1, 1, 2, 6], np.int32))


def test_jnp_cumsum_x64(x64):
    assert jnp.cumsum(jnp.array([True])).dtype == np.int64


# --- derivatives ----------------------------------------------------------------------
def _check_derivatives(f, x, rng, eps=1e-6, tol=1e-6):
    """JVP against central differences and VJP against the JVP (<ct, J t> both ways)."""
    t = rng.standard_normal(x.shape)
    out, tout = tinyjax.jvp(f, (jnp.asarray(x),), (jnp.asarray(t),))
    fd = (np.asarray(f(jnp.asarray(x + eps * t))) - np.asarray(f(jnp.asarray(x - eps * t)))) / (2 * eps)
    np.testing.assert_allclose(np.asarray(tout), fd, atol=tol, rtol=tol)
    ct = rng.standard_normal(np.shape(out))
    _, vjp_fn = tinyjax.vjp(f, jnp.asarray(x))
    (g,) = vjp_fn(jnp.asarray(ct))
    np.testing.assert_allclose(np.vdot(np.asarray(g), t), np.vdot(ct, np.asarray(tout)), rtol=1e-9)


@pytest.mark.parametrize('shape,axis', [((7,), 0), ((3, 5), 0), ((3, 5), 1), ((2, 3, 4), -2)])
def test_derivatives_finite_differences(x64, rng, shape, axis):
    x = rng.standard_normal(shape)   # distinct values: every op is smooth here
    ax = axis % len(shape)
    _check_derivatives(lambda v: jnp.sort(v, axis=axis), x, rng)
    _check_derivatives(lambda v: jnp.sort(v, axis=axis, descending=True), x, rng)
    _check_derivatives(lambda v: lax.top_k(v, 2)[0], x, rng)
    for name in ('cumsum', 'cumprod', 'cummax', 'cummin', 'cumlogsumexp'):
        for reverse in (False, True):
            _check_derivatives(lambda v: getattr(lax, name)(v, ax, reverse), x, rng)
    _check_derivatives(lambda v: jnp.cumsum(v, axis=axis), x, rng)
    _check_derivatives(lambda v: jnp.cumprod(v, axis=None), x, rng)


def test_tie_and_zero_gradients_as_jax():
    # Recorded from JAX: cummax/cummin ties share the tangent as JAX's scan does; cumprod
    # through zeros is exact; sort ties follow the stable permutation.
    g = tinyjax.grad
    w = jnp.arange(6.) + 1
    _same(g(lambda v: lax.cummax(v).sum())(jnp.array([1., 3., 3., 2., 3., 5.])),
          np.array([1, 2.25, 1.25, 0, 0.5, 1], np.float32))
    _same(g(lambda v: lax.cummin(v, reverse=True).sum())(jnp.array([1., 3., 1., 2., 1., 5.])),
          np.array([0.5, 0, 1.25, 0, 3.25, 1], np.float32))
    _same(g(lambda v: (lax.cummax(v) * jnp.arange(7.)).sum())(jnp.ones(7)),
          np.array([3.25, 3.25, 3.25, 2.25, 4.0, 2.0, 3.0], np.float32))
    _same(g(lambda v: lax.cumprod(v).sum())(jnp.array([2., 0., 3., 0., 4.])),
          np.array([1, 8, 0, 0, 0], np.float32))
    x = jnp.array([2., 1., 2., 0., 1., 2.])
    _same(g(lambda v: (jnp.sort(v) * w).sum())(x), np.array([4, 2, 5, 1, 3, 6], np.float32))
    _same(g(lambda v: (jnp.sort(v, descending=True) * w).sum())(x),
          np.array([3, 5, 2, 6, 4, 1], np.float32))
    _same(g(lambda v: (lax.top_k(v, 3)[0] * jnp.array([1., 2., 3.])).sum())(x),
          np.array([1, 0, 2, 0, 0, 3], np.float32))
    m = jnp.array([[1., 3., 3.], [3., 2., 3.], [3., 3., 1.], [0., 3., 4.]])
    W = jnp.arange(12.).reshape(4, 3) + 1
    _same(g(lambda v: (lax.cummax(v, axis=0) * W).sum())(m),
          np.array([[1, 16.5, 10.5], [12.5, 0, 7.5], [8.5, 6.75, 0], [0, 2.75, 12]], np.float32))
    _same(g(lambda v: (lax.cummin(v, axis=1, reverse=True) * W).sum())(m),
          np.array([[1, 1, 4], [0, 9, 6], [0, 0, 24], [10, 11, 12]], np.float32))
    p = jnp.array([[2., 0., 3.], [0., 4., 0.5], [1., 0., 0.], [-1., 2., 5.]])
    _same(g(lambda v: (lax.cumprod(v, axis=1) * W).sum())(p),
          np.array([[1, 22, 0], [36, 0, 0], [7, 8, 0], [152, -71, -24]], np.float32))
    _same(g(lambda v: (lax.cumprod(v, axis=0, reverse=True) * W).sum())(p),
          np.array([[0, 0, 0], [-6, 0, 0], [-7, 56, 82.5], [17, 11, 12]], np.float32))


def test_cumsum_transpose_is_reverse_cumsum(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    ct = rng.standard_normal((3, 4)).astype(np.float32)
    for reverse in (False, True):
        _, f_vjp = tinyjax.vjp(lambda v: lax.cumsum(v, 1, reverse), jnp.asarray(x))
        want = np.flip(np.cumsum(np.flip(ct, 1), 1), 1) if not reverse else np.cumsum(ct, 1)
        np.testing.assert_allclose(f_vjp(jnp.asarray(ct))[0], want, rtol=1e-5, atol=1e-6)


# --- vmap -----------------------------------------------------------------------------
@pytest.mark.parametrize('batch_axis', [0, 1, 2, -1])
def test_vmap_matches_loop(rng, batch_axis):
    x = rng.integers(-3, 4, (3, 4, 5)).astype(np.float32)   # ties exercise stability
    fns = [lambda v: jnp.sort(v, axis=0), lambda v: jnp.argsort(v, axis=-1, descending=True),
           lambda v: lax.cumsum(v, 1, True), lambda v: lax.cummax(v, 0),
           lambda v: jnp.cumprod(v), lambda v: lax.sort((v, -v), 1, num_keys=1)[1],
           lambda v: lax.top_k(v, 2)[1],
           lambda v: jnp.searchsorted(jnp.sort(v.reshape(-1)), jnp.array([0., 1.5]))]
    n = x.shape[batch_axis]
    for f in fns:
        got = tinyjax.vmap(f, in_axes=batch_axis)(jnp.asarray(x))
        want = np.stack([np.asarray(f(jnp.asarray(np.take(x, i, batch_axis)))) for i in range(n)])
        _same(got, want)


def test_vmap_of_grad_and_unbatched_operand(rng):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    keys = jnp.asarray(rng.integers(0, 3, 6))
    per_row = tinyjax.vmap(tinyjax.grad(lambda v: (lax.cummax(v) * jnp.arange(6.)).sum()))
    want = np.stack([np.asarray(tinyjax.grad(lambda v: (lax.cummax(v) * jnp.arange(6.)).sum())(
        jnp.asarray(r))) for r in x])
    np.testing.assert_allclose(per_row(jnp.asarray(x)), want, rtol=1e-6)
    got = tinyjax.vmap(lambda v: lax.sort_key_val(keys, v)[1])(jnp.asarray(x))
    _same(got, np.take_along_axis(x, np.argsort(np.asarray(keys), kind='stable')[None], 1))


# --- errors (classes checked against JAX) ---------------------------------------------
def test_errors():
    a = jnp.ones((2, 3))
    for bad in (lambda: jnp.sort(a, axis=2), lambda: jnp.sort(a, axis=-3),
                lambda: jnp.argsort(a, axis=2), lambda: lax.sort(a, dimension=2),
                lambda: jnp.sort(jnp.float32(1.0)), lambda: jnp.cumsum(a, axis=2),
                lambda: lax.cumsum(a, axis=2), lambda: lax.cumsum(a, axis=-1),
                lambda: jnp.cumsum(jnp.float32(2.0), axis=0),
                lambda: lax.top_k(jnp.array([1., 2.]), 3), lambda: lax.top_k(jnp.array([1.]), -1),
                lambda: lax.top_k(jnp.array(1.), 1),
                lambda: lax.sort((jnp.array([3, 1]),), num_keys=2),
                lambda: jnp.searchsorted(jnp.ones((2, 2)), 1.),
                lambda: jnp.searchsorted(jnp.ones(2), 1., side='middle'),
                lambda: jnp.lexsort((jnp.array([1, 2]), jnp.array([1, 2, 3]))),
                lambda: jnp.partition(jnp.array([3, 1, 2]), 3),
                lambda: jnp.cumulative_sum(a), lambda: jnp.cumulative_sum(jnp.array(3))):
        with pytest.raises(ValueError):
            bad()
    for bad in (lambda: lax.cumsum(jnp.array([True, False])),
                lambda: lax.cummax(jnp.array([True, False])),
                lambda: jnp.sort(jnp.array([2, 1]), kind='quicksort'),
                lambda: jnp.sort(jnp.array([2, 1]), order='x'),
                lambda: jnp.sort([3, 1]), lambda: jnp.cumsum([1, 2]),
                lambda: jnp.lexsort(()), lambda: lax.sort(()),
                lambda: lax.sort((jnp.array([3, 1, 1]), jnp.array([1, 2])))):
        with pytest.raises(TypeError):
            bad()
