"""Complex matrices through eigh, qr, svd, lu and what is built on them (det, slogdet,
inv, solve, pinv, norm(ord=2), lu_solve, cho_solve, solve_triangular): values, grads and
JVPs against JAX 0.10.2 (tests/data/jax_complex_linalg.json, made by the script beside
it, whose cases this test runs on tinyjax), and check_grads on complex inputs."""
import json
import pathlib
import sys

import numpy as np
import pytest

import tinyjax
import tinyjax.numpy as jnp
import tinyjax.scipy.linalg as tsl
from tinyjax.test_util import check_grads

DATA = pathlib.Path(__file__).parent / 'data'
sys.path.insert(0, str(DATA))
import jax_complex_linalg as recipe  # noqa: E402

REC = json.loads((DATA / 'jax_complex_linalg.json').read_text())


@pytest.fixture(scope='module')
def ours():
    tinyjax.config.update('jax_enable_x64', True)
    try:
        yield recipe.run(tinyjax, jnp, tsl)
    finally:
        tinyjax.config.update('jax_enable_x64', False)


@pytest.mark.parametrize('name', sorted(set(REC)))
def test_matches_jax(ours, name):
    for key, want in REC[name].items():
        np.testing.assert_allclose(np.asarray(ours[name][key], float), np.asarray(want, float),
                                   rtol=1e-9, atol=1e-9, err_msg=f'{name}.{key}')


def _complex(rng, shape, dtype):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize('dtype', [np.complex64, np.complex128])
def test_dtypes_of_results(rng, dtype):
    a = _complex(rng, (2, 3, 3), dtype)
    real = np.float32 if dtype == np.complex64 else np.float64
    tinyjax.config.update('jax_enable_x64', True)
    try:
        w, v = jnp.linalg.eigh(a)
        u, s, vh = jnp.linalg.svd(a)
        sign, logabs = jnp.linalg.slogdet(a)
        assert (w.dtype, v.dtype, s.dtype, u.dtype, sign.dtype, logabs.dtype) == \
            (real, dtype, real, dtype, dtype, real)
        h = a + np.conj(np.swapaxes(a, -1, -2))
        tol = 1e-4 if dtype == np.complex64 else 1e-10
        np.testing.assert_allclose(np.asarray(jnp.linalg.eigvalsh(h)), np.linalg.eigvalsh(h),
                                   rtol=tol, atol=tol)
        np.testing.assert_allclose(np.asarray(s), np.linalg.svd(a, compute_uv=False),
                                   rtol=tol, atol=tol)
        np.testing.assert_allclose(np.asarray(u * s[..., None, :] @ vh), a, rtol=tol, atol=tol)
        q, r = jnp.linalg.qr(a)
        np.testing.assert_allclose(np.asarray(q @ r), a, rtol=tol, atol=tol)
        np.testing.assert_allclose(np.asarray(jnp.linalg.det(a)), np.linalg.det(a), rtol=tol)
        np.testing.assert_allclose(np.asarray(jnp.linalg.inv(a)), np.linalg.inv(a),
                                   rtol=10 * tol, atol=10 * tol)
        p, low, up = tsl.lu(a[0])
        np.testing.assert_allclose(np.asarray(p @ low @ up), a[0], rtol=tol, atol=tol)
    finally:
        tinyjax.config.update('jax_enable_x64', False)


def test_check_grads_on_complex_inputs(rng):
    tinyjax.config.update('jax_enable_x64', True)
    try:
        a = _complex(rng, (3, 3), np.complex128)
        t = _complex(rng, (4, 3), np.complex128)
        w = rng.standard_normal((3, 3))

        def herm(x):
            return x + jnp.conj(x.T)
        fns = [
            (lambda x: jnp.linalg.eigvalsh(herm(x)), a),
            (lambda x: jnp.abs(jnp.linalg.eigh(herm(x))[1]) ** 2, a),
            (lambda x: jnp.linalg.qr(x), t),
            (lambda x: jnp.linalg.svd(x, compute_uv=False), t),
            (lambda x: jnp.abs(jnp.linalg.svd(x, full_matrices=False)[0]) ** 2 @ w, t),
            (lambda x: tsl.lu_factor(x)[0], a),
            (jnp.linalg.det, a), (jnp.linalg.slogdet, a), (jnp.linalg.inv, a),
            (lambda x: jnp.linalg.solve(x, t[:3]), a), (jnp.linalg.pinv, t),
        ]
        for f, x in fns:
            check_grads(f, (x,), order=1, modes=('fwd', 'rev'))
        check_grads(lambda x: jnp.linalg.eigvalsh(herm(x)), (a,), order=2)
    finally:
        tinyjax.config.update('jax_enable_x64', False)


def test_jit_and_vmap_of_complex_grads(rng):
    a = _complex(rng, (4, 3, 3), np.complex64)

    def f(x):
        return jnp.sum(jnp.linalg.svd(x, compute_uv=False)) + jnp.linalg.slogdet(x)[1]
    g = tinyjax.jit(tinyjax.vmap(tinyjax.grad(f)))(a)
    for i in range(4):
        np.testing.assert_allclose(np.asarray(g[i]), np.asarray(tinyjax.grad(f)(a[i])),
                                   rtol=1e-4, atol=1e-4)
