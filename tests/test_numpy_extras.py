"""The extra NumPy functions against NumPy."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a), b, rtol=tol, atol=tol)


def test_comparisons():
    a = np.array([1.0, np.inf, np.nan, 1e-9, -np.inf], np.float32)
    b = np.array([1.0 + 1e-7, np.inf, np.nan, 0.0, np.inf], np.float32)
    np.testing.assert_array_equal(jnp.isclose(a, b), np.isclose(a, b))
    np.testing.assert_array_equal(jnp.isclose(a, b, equal_nan=True), np.isclose(a, b, equal_nan=True))
    assert bool(jnp.allclose(a[:2], b[:2])) and not bool(jnp.allclose(a, b))
    assert bool(jnp.array_equal(jnp.arange(3), np.arange(3)))
    assert not bool(jnp.array_equal(jnp.arange(3), np.arange(4)))
    assert bool(jnp.array_equiv(jnp.ones((2, 3)), 1))


def test_grids_and_differences():
    for ind in ('xy', 'ij'):
        for got, want in zip(jnp.meshgrid(jnp.arange(3), jnp.arange(4), indexing=ind),
                             np.meshgrid(np.arange(3), np.arange(4), indexing=ind)):
            close(got, want)
    close(jnp.indices((2, 3)), np.indices((2, 3)))
    x = _r(3, 5)
    close(jnp.diff(x), np.diff(x))
    close(jnp.diff(x, n=2, axis=0), np.diff(x, n=2, axis=0))
    close(jnp.diff(x, prepend=0.0), np.diff(x, prepend=0.0))
    close(jnp.ediff1d(x, to_begin=[1.0]), np.ediff1d(x, to_begin=[1.0]))
    close(jnp.append(x, x, axis=0), np.append(x, x, axis=0))


def test_nan_reductions_and_statistics():
    x = _r(4, 5, seed=1)
    x[1, 2] = np.nan
    for name in ('nansum', 'nanmean', 'nanmax', 'nanmin', 'nanvar', 'nanstd', 'nanprod',
                 'nanargmax', 'nanargmin'):
        close(getattr(jnp, name)(x, axis=1), getattr(np, name)(x, axis=1))
    y = _r(7, 6, seed=2)
    for q in (0.0, 0.3, 0.5, 1.0):
        close(jnp.quantile(y, q, axis=0), np.quantile(y, q, axis=0))
    close(jnp.quantile(y, jnp.array([0.25, 0.75])), np.quantile(y, [0.25, 0.75]))
    for method in ('lower', 'higher', 'midpoint'):
        close(jnp.quantile(y, 0.3, axis=1, method=method), np.quantile(y, 0.3, axis=1, method=method))
    # 'nearest' at a tie (position 1.5 here) takes the lower element, as JAX 0.10.2 does
    # (jnp.quantile(jnp.arange(6.), 0.3, method='nearest') == 1.0); NumPy rounds to even.
    close(jnp.quantile(y, 0.3, axis=1, method='nearest'), np.sort(y, axis=1)[:, 1])
    close(jnp.quantile(y, 0.35, axis=1, method='nearest'), np.quantile(y, 0.35, axis=1,
                                                                       method='nearest'))
    # A NaN in a slice makes its quantile NaN (JAX: jnp.quantile([1., nan, 3.], 0.1) is nan).
    z = y.copy()
    z[2, 3] = np.nan
    got = np.asarray(jnp.quantile(z, 0.4, axis=1))
    assert np.isnan(got[2]) and not np.isnan(np.delete(got, 2)).any()
    assert np.isnan(float(jnp.median(jnp.asarray([1.0, np.nan, 3.0]))))
    close(jnp.median(y, axis=1, keepdims=True), np.median(y, axis=1, keepdims=True))
    close(jnp.percentile(y, 40), np.percentile(y, 40))
    close(jnp.cov(y), np.cov(y), 1e-4)
    close(jnp.cov(y, rowvar=False), np.cov(y, rowvar=False), 1e-4)
    close(jnp.corrcoef(y), np.corrcoef(y), 1e-4)


def test_indices_and_counting():
    close(jnp.select([jnp.arange(5) < 2, jnp.arange(5) > 3], [0.0, 1.0], -1.0),
          np.select([np.arange(5) < 2, np.arange(5) > 3], [0.0, 1.0], -1.0))
    for got, want in zip(jnp.triu_indices(4, 1), np.triu_indices(4, 1)):
        close(got, want)
    for got, want in zip(jnp.tril_indices(3), np.tril_indices(3)):
        close(got, want)
    for got, want in zip(jnp.unravel_index(jnp.asarray([5, 7]), (3, 4)), np.unravel_index([5, 7], (3, 4))):
        close(got, want)
    close(jnp.ravel_multi_index((jnp.asarray([1, 2]), jnp.asarray([1, 3])), (3, 4)),
          np.ravel_multi_index(([1, 2], [1, 3]), (3, 4)))
    b = np.array([0, 1, 1, 3, 2, 1])
    close(jnp.bincount(b), np.bincount(b))
    close(jnp.bincount(b, weights=np.arange(6.0), length=6), np.bincount(b, weights=np.arange(6.0), minlength=6))


@pytest.mark.parametrize('mode', ['full', 'same', 'valid'])
def test_convolve_and_correlate(mode):
    a, v = _r(7, seed=3), _r(3, seed=4)
    close(jnp.convolve(a, v, mode), np.convolve(a, v, mode))
    close(jnp.correlate(a, v, mode), np.correlate(a, v, mode))
    close(jnp.convolve(v, a, mode), np.convolve(v, a, mode))


def test_misc_math():
    xp = np.array([0.0, 1.0, 3.0])
    fp = np.array([1.0, 2.0, 0.0])
    x = np.array([-1.0, 0.5, 2.0, 4.0])
    close(jnp.interp(x, xp, fp), np.interp(x, xp, fp))
    close(jnp.polyval(jnp.asarray([1.0, -2.0, 3.0]), x), np.polyval([1.0, -2.0, 3.0], x))
    a, b = _r(4, 3, seed=5), _r(4, 3, seed=6)
    close(jnp.cross(a, b), np.cross(a, b))
    close(jnp.logaddexp2(a, b), np.logaddexp2(a, b))
    close(jnp.gcd(jnp.asarray([12, -18, 7, 0]), jnp.asarray([8, 12, 0, 0])), np.gcd([12, -18, 7, 0], [8, 12, 0, 0]))
    close(jnp.lcm(jnp.asarray([4, 6]), jnp.asarray([6, 10])), np.lcm([4, 6], [6, 10]))
    close(jnp.ldexp(jnp.asarray([1.0, 3.0]), jnp.asarray([2, -1])), np.ldexp([1.0, 3.0], [2, -1]))
    frac, whole = jnp.modf(jnp.asarray([1.5, -2.25]))
    close(frac, [0.5, -0.25])
    close(whole, [1.0, -2.0])
    assert jax.jacobian(jnp.sin)(0.5) == pytest.approx(np.cos(0.5))


def test_cov_weights_match_jax():
    # Recorded from JAX 0.10.2 (NumPy's weighted covariance).
    x = jnp.array([[1., 2., 4., 7.], [0.5, -1., 3., 2.]])
    aw, fw = jnp.array([1., 2., 0.5, 1.]), jnp.array([1, 2, 3, 1])
    np.testing.assert_allclose(np.asarray(jnp.cov(x, aweights=aw)),
                               [[7.2142859, 3.3035715], [3.3035715, 3.1696429]], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(jnp.cov(x, fweights=fw)),
                               [[3.9523811, 2.3214285], [2.3214285, 3.3928571]], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(jnp.cov(x, fweights=fw, aweights=aw, ddof=0)),
                               [[3.3955557, 2.0933335], [2.0933335, 2.74]], rtol=1e-6)
    np.testing.assert_allclose(float(jnp.cov(x[0], aweights=aw)), 7.2142859, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(jnp.cov(np.asarray(x), aweights=np.asarray(aw))),
                               np.cov(np.asarray(x), aweights=np.asarray(aw)), rtol=1e-5)
