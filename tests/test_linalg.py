"""tinyjax.numpy.linalg / tinyjax.scipy.linalg against NumPy/SciPy, derivatives against
finite differences (float64) and values recorded from JAX 0.10.2, vmap, jit, errors."""
import numpy as np
import pytest

import tinyjax
import tinyjax.numpy as jnp
import tinyjax.scipy.linalg as tsl
from tinyjax.ops import decompositions as dec
from tinyjax.test_util import check_grads

L = jnp.linalg
SHAPES = [(3, 3), (2, 4, 4), (2, 3, 5, 5)]


def close(x, y, tol=1e-4):
    np.testing.assert_allclose(np.asarray(x), y, atol=tol, rtol=tol)


def spd(rng, shape, dtype=np.float32):
    a = rng.standard_normal(shape)
    return (a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


@pytest.mark.parametrize('shape', SHAPES)
def test_square_functions_match_numpy(rng, shape):
    a = (rng.standard_normal(shape) + 2 * np.eye(shape[-1])).astype(np.float32)
    b = rng.standard_normal(shape[:-1] + (2,)).astype(np.float32)
    s = spd(rng, shape)
    close(L.solve(a, b), np.linalg.solve(a, b), 1e-3)
    close(L.inv(a), np.linalg.inv(a), 1e-3)
    close(L.det(a), np.linalg.det(a), 1e-3)
    sign, logdet = L.slogdet(a)
    close(sign, np.linalg.slogdet(a)[0])
    close(logdet, np.linalg.slogdet(a)[1])
    close(L.cholesky(s), np.linalg.cholesky(s))
    close(L.cholesky(s, upper=True), np.swapaxes(np.linalg.cholesky(s), -1, -2))
    w, v = L.eigh(s)
    close(w, np.linalg.eigvalsh(s), 1e-3)
    close(v @ (w[..., None] * np.swapaxes(np.asarray(v), -1, -2)), s, 1e-3)
    close(L.eigvalsh(s), np.linalg.eigvalsh(s), 1e-3)
    close(L.matrix_power(a, 3), np.linalg.matrix_power(a, 3), 1e-3)
    close(L.matrix_power(a, -1), np.linalg.inv(a), 1e-3)
    close(L.cond(a), np.linalg.cond(a), 1e-2)


@pytest.mark.parametrize('shape', [(4, 3), (3, 5), (2, 5, 3), (4, 4)])
def test_rectangular_functions_match_numpy(rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    q, r = L.qr(x)
    qn, rn = np.linalg.qr(x)
    close(q, qn)
    close(r, rn)
    assert L.qr(x, 'complete').Q.shape == np.linalg.qr(x, 'complete')[0].shape
    close(L.qr(x, 'r'), np.linalg.qr(x, 'r'))
    close(L.svd(x, compute_uv=False), np.linalg.svd(x, compute_uv=False))
    for full in (True, False):
        u, s, vt = L.svd(x, full_matrices=full)
        un, sn, vtn = np.linalg.svd(x, full_matrices=full)
        assert u.shape == un.shape and vt.shape == vtn.shape
        k = min(shape[-2:])
        close(np.asarray(u)[..., :k] * np.asarray(s)[..., None, :] @ np.asarray(vt)[..., :k, :], x)
    close(L.pinv(x), np.linalg.pinv(x), 1e-3)
    assert np.array_equal(L.matrix_rank(x), np.linalg.matrix_rank(x))


def test_lu_matches_scipy(rng):
    scipy_linalg = pytest.importorskip('scipy.linalg')
    for shape in [(4, 4), (5, 3), (3, 5)]:
        x = rng.standard_normal(shape).astype(np.float32)
        for got, want in zip(tsl.lu(x), scipy_linalg.lu(x)):
            close(got, want)
    a = rng.standard_normal((4, 4)).astype(np.float32)
    lu, piv = tsl.lu_factor(a)
    lu_n, piv_n = scipy_linalg.lu_factor(a)
    close(lu, lu_n)
    assert np.array_equal(piv, piv_n) and piv.dtype == np.int32
    b = rng.standard_normal((4, 2)).astype(np.float32)
    for trans in (0, 1):
        close(tsl.lu_solve((lu, piv), b, trans=trans), scipy_linalg.lu_solve((lu_n, piv_n), b, trans=trans), 1e-3)
    for lower in (False, True):
        for trans in (0, 1):
            for unit in (False, True):
                t = a + 4 * np.eye(4, dtype=np.float32)
                close(tsl.solve_triangular(t, b, trans=trans, lower=lower, unit_diagonal=unit),
                      scipy_linalg.solve_triangular(t, b, trans=trans, lower=lower, unit_diagonal=unit))
        s = spd(rng, (4, 4))
        close(tsl.cho_solve(tsl.cho_factor(s, lower=lower), b), np.linalg.solve(s, b), 1e-3)
    for scale in (0.1, 1.0, 20.0):
        close(tsl.expm(scale * a), scipy_linalg.expm(scale * a.astype(np.float64)), 1e-3 * scale)
    # Rectangular LU (recorded from jax.lax.linalg.lu).
    lu, piv, perm = dec.lu(np.arange(12., dtype=np.float32).reshape(4, 3) ** 1.5)
    assert piv.tolist() == [3, 1, 3] and perm.tolist() == [3, 1, 0, 2]


def test_norms_match_numpy(rng):
    a = rng.standard_normal((3, 4, 5)).astype(np.float32)
    for o in [None, 'fro', 'nuc', 1, -1, 2, -2, np.inf, -np.inf]:
        close(L.norm(a[0], o), np.linalg.norm(a[0], o))
        close(L.norm(a, o, axis=(2, 0), keepdims=True), np.linalg.norm(a, o, axis=(2, 0), keepdims=True))
    for o in [None, 0, 1, 2, 3, np.inf, -np.inf]:
        close(L.norm(a[0, 0], o), np.linalg.norm(a[0, 0], o))
        close(L.norm(a, o, axis=1), np.linalg.norm(a, o, axis=1))
    close(L.norm(a), np.linalg.norm(a))
    close(L.matrix_norm(a), np.linalg.norm(a, axis=(-2, -1)))
    close(L.vector_norm(a), np.linalg.norm(a.ravel()))
    close(L.multi_dot([a[0], a[1].T, a[2]]), a[0] @ a[1].T @ a[2])
    close(L.trace(a), np.trace(a, axis1=-2, axis2=-1))
    close(L.svdvals(a), np.linalg.svd(a, compute_uv=False))


def test_lstsq_and_special_values(rng):
    A = rng.standard_normal((6, 3))
    b = rng.standard_normal(6)
    x, resid, rank, s = L.lstsq(A, b)
    xn, rn, rankn, sn = np.linalg.lstsq(A, b, rcond=None)
    close(x, xn)
    close(resid, rn)
    assert int(rank) == rankn
    # Integers promote to the default float, as in JAX.
    assert L.det(np.eye(3, dtype=np.int32)).dtype == np.float32
    assert L.inv(np.eye(3, dtype=np.int32)).dtype == np.float32
    assert float(L.det(np.zeros((3, 3)))) == 0.0
    sign, logdet = L.slogdet(np.zeros((3, 3), np.float32))
    assert float(sign) == 0 and float(logdet) == -np.inf
    # Not positive definite: NaNs, not an exception (as JAX).
    assert np.isnan(np.asarray(L.cholesky(-np.eye(2)))).any()
    assert L.solve(np.eye(3) + np.zeros((2, 3, 3)), np.ones(3)).shape == (2, 3)


# --- derivatives (float64) ---------------------------------------------------------------
def test_grads(x64, rng):
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((3, 2))
    s = spd(rng, (3, 3), np.float64)
    check_grads(L.solve, (a, b), 1)
    check_grads(L.inv, (a,), 1)
    check_grads(L.det, (a,), 1)
    check_grads(lambda x: L.slogdet(x)[1], (a,), 1)
    check_grads(L.cholesky, (s,), 1)
    for shape in [(4, 3), (3, 3)]:
        check_grads(lambda x: L.qr(x), (rng.standard_normal(shape),), 1)
    check_grads(lambda x: L.eigh(x), (s,), 1)
    for shape in [(4, 3), (3, 4), (3, 3)]:
        x = rng.standard_normal(shape)
        check_grads(lambda x: L.svd(x, compute_uv=False).sum(), (x,), 1)
        check_grads(lambda x: L.svd(x, full_matrices=False), (x,), 1)
    for lower in (True, False):
        for transpose in (True, False):
            for left in (True, False):
                check_grads(lambda t, y: dec.triangular_solve(t, y, left, lower, transpose, False),
                            (a, b if left else b.T), 1)
    check_grads(lambda x: tsl.lu_factor(x)[0], (a,), 1)
    check_grads(tsl.expm, (a / 4,), 1, modes=('rev',))


def test_grads_match_jax(x64):
    # Inputs chosen non-symmetric so the symmetrisation of cholesky / eigh counts.
    r = np.random.default_rng(42)
    A = np.round(r.standard_normal((3, 3)), 2)
    S = np.round(A @ A.T + 3 * np.eye(3), 2) + np.array([[0, .1, 0], [0, 0, 0], [.2, 0, 0]])
    W = np.arange(9.).reshape(3, 3) / 10
    g = tinyjax.grad
    recorded = {   # jax.grad of the same functions, JAX 0.10.2 on the CPU, x64
        'chol': [[-0.0206084094, 0.0416566843, 0.0860325769], [0.0416566843, 0.0596545171, 0.1005925041],
                 [0.0860325769, 0.1005925041, 0.2297809255]],
        'eigh': [[0.1656899984, 0.0669410313, -0.0611248763], [0.0669410313, 0.1616903045, 0.044671924],
                 [-0.0611248763, 0.044671924, -0.0273803029]],
        'svd': [[-0.0395828673, -0.5280085826, 0.7358809231], [0.297106482, -0.7397405817, -0.7827838529],
                [0.8263283465, 0.3934014824, 0.6353876985]],
        'qr': [[0.5296473101, 0.2465997331, 0.317502469], [-0.3802139836, -0.3040509578, -0.4244965492],
               [1.5269765508, 0.8638777996, 0.8056021735]],
        'expm': [[0.217034323, 0.0326864898, 0.3729645055], [0.1177373235, -0.0186937052, 0.0459263144],
                 [0.7757856341, 0.211027202, 0.8012206942]],
    }
    close(g(lambda x: (L.cholesky(x) * W).sum())(S), recorded['chol'], 1e-8)
    close(g(lambda x: (L.eigh(x)[1] ** 3 * W).sum() + (L.eigh(x)[0] * W[0]).sum())(S), recorded['eigh'], 1e-8)
    close(g(lambda x: (L.svd(x)[0] * W).sum() ** 2 + L.svd(x)[1].sum())(A), recorded['svd'], 1e-8)
    close(g(lambda x: (L.qr(x)[0] * W).sum() + (L.qr(x)[1] * W).sum())(A), recorded['qr'], 1e-8)
    close(g(lambda x: (tsl.expm(x) * W).sum())(A), recorded['expm'], 1e-8)


def test_degenerate_eigh_derivative_is_not_finite(x64):
    # Repeated eigenvalues: the eigenvector derivative is undefined; like JAX, inf/nan.
    grad = tinyjax.grad(lambda x: L.eigh(x)[1].sum())(np.eye(3))
    assert not np.isfinite(np.asarray(grad)).all()


# --- vmap and jit ----------------------------------------------------------------------------
def test_vmap_matches_loop(rng):
    s = spd(rng, (3, 4, 4))
    b = rng.standard_normal((3, 4, 2)).astype(np.float32)
    fns = [L.cholesky, L.inv, L.det, lambda x: L.eigh(x)[0], lambda x: L.qr(x)[1],
           lambda x: L.svd(x, compute_uv=False), lambda x: tsl.lu_factor(x)[0]]
    for f in fns:
        close(tinyjax.vmap(f)(s), np.stack([np.asarray(f(m)) for m in s]), 1e-3)
    close(tinyjax.vmap(L.solve)(s, b), np.stack([np.asarray(L.solve(m, v)) for m, v in zip(s, b)]), 1e-3)
    # One side batched, with the batch axis not in front.
    bt = np.moveaxis(b, 0, 2)   # (4, 2, 3): examples along the last axis
    out = tinyjax.vmap(lambda y: tsl.solve_triangular(s[0], y, lower=True), in_axes=2, out_axes=2)(bt)
    close(out, np.stack([np.asarray(tsl.solve_triangular(s[0], bt[..., i], lower=True))
                         for i in range(3)], axis=-1))
    g = tinyjax.vmap(tinyjax.grad(lambda x: L.slogdet(x)[1]))(s)
    close(g, np.swapaxes(np.linalg.inv(s), -1, -2), 1e-3)


def test_jit_matches_eager(rng):
    a = rng.standard_normal((2, 4, 4)).astype(np.float32)
    s = spd(rng, (2, 4, 4))

    def f(a, s):
        w, v = L.eigh(s)
        u, sv, vt = L.svd(a)
        return L.solve(a, s), L.det(a), L.cholesky(s), w, sv, L.qr(a)[1], L.norm(a, 2, axis=(1, 2))
    for x, y in zip(tinyjax.jit(f)(a, s), f(a, s)):
        close(x, np.asarray(y), 1e-4)
    close(tinyjax.jit(tinyjax.grad(lambda x: L.det(x).sum()))(a),
          np.asarray(tinyjax.grad(lambda x: L.det(x).sum())(a)), 1e-4)


# --- errors ------------------------------------------------------------------------------------
def test_errors():
    with pytest.raises(ValueError, match=r'inv.*\(\.\.\., n, n\).*\(3, 4\)'):
        L.inv(np.ones((3, 4)))
    with pytest.raises(ValueError, match='cholesky'):
        L.cholesky(np.ones(4))
    with pytest.raises(ValueError, match='solve.*b must have shape'):
        L.solve(np.eye(3), np.ones(4))
    with pytest.raises(ValueError, match=r'solve.*b\[\.\.\., None\]'):
        L.solve(np.ones((2, 3, 3)), np.ones((2, 3)))
    with pytest.raises(TypeError, match='cholesky.*int32.*float32'):
        dec.cholesky(np.eye(2, dtype=np.int32))
    with pytest.raises(ValueError, match='triangular_solve.*b must have shape'):
        dec.triangular_solve(np.eye(3, dtype=np.float32), np.ones((4, 2), np.float32), left_side=True)
    with pytest.raises(ValueError, match='ord'):
        L.norm(np.ones((2, 2)), 'bogus')
    with pytest.raises(NotImplementedError, match='full_matrices'):
        tinyjax.grad(lambda x: L.svd(x)[0].sum())(np.ones((3, 2), np.float32))


def test_det_gradient_at_singular_matrices_matches_jax():
    # tinyjax.grad(jnp.linalg.det) recorded from JAX 0.10.2 (x64): the adjugate transposed,
    # finite at rank n-1 and zero below.
    tinyjax.config.update('jax_enable_x64', True)
    try:
        g = tinyjax.grad(jnp.linalg.det)
        np.testing.assert_allclose(np.asarray(g(jnp.array([[1., 2.], [2., 4.]]))),
                                   [[4., -2.], [-2., 1.]])
        b = jnp.array([[1., 2., 3.], [4., 5., 6.], [7., 8., 9.]])
        np.testing.assert_allclose(np.asarray(g(b)), [[-3., 6., -3.], [6., -12., 6.],
                                                      [-3., 6., -3.]])
        np.testing.assert_allclose(np.asarray(g(jnp.array([[0., 1., 2.], [0., 3., 4.],
                                                           [0., 5., 7.]]))),
                                   [[1., 0., 0.], [3., 0., 0.], [-2., 0., 0.]])
        e = np.arange(16.).reshape(4, 4)
        e[3], e[2, 2] = e[0] + e[1], 1
        want = [[-72., 108., 0., -36.], [-72., 108., 0., -36.], [0.] * 4, [72., -108., 0., 36.]]
        np.testing.assert_allclose(np.asarray(g(jnp.asarray(e))), want, atol=1e-12)
        np.testing.assert_array_equal(np.asarray(g(jnp.ones((4, 4)))), np.zeros((4, 4)))
        batch = tinyjax.grad(lambda m: jnp.linalg.det(m).sum())(jnp.stack([jnp.asarray(e)] * 2))
        np.testing.assert_allclose(np.asarray(batch[1]), want, atol=1e-12)
        f = np.random.default_rng(0).standard_normal((5, 5))
        np.testing.assert_allclose(np.asarray(g(jnp.asarray(f))),
                                   np.linalg.det(f) * np.linalg.inv(f).T, rtol=1e-10)
        check_grads(jnp.linalg.det, (jnp.asarray(f),), order=2, modes=('fwd', 'rev'))
    finally:
        tinyjax.config.update('jax_enable_x64', False)
