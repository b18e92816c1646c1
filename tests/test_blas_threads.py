"""The CPU's BLAS thread policy (tinyjax/backends/blas.py): one thread for small or
contended matmuls, every usable CPU otherwise, and the same products either way."""
import numpy as np

import tinyjax
import tinyjax.numpy as jnp
from tinyjax.backends import blas


def _policy(monkeypatch, load):
    monkeypatch.delenv('TINYJAX_BLAS_THREADS', raising=False)
    monkeypatch.setattr(blas.os, 'getloadavg', lambda: (load, load, load))
    p = blas.BlasThreads()
    monkeypatch.setattr(p, '_cpus', lambda: 4)
    return p


def test_small_matmuls_use_one_thread(monkeypatch):
    p = _policy(monkeypatch, 0.0)
    assert p.threads_for(blas.SMALL_FLOPS - 1) == 1
    assert p.threads_for(2 * 512 ** 3) == 4


def test_a_busy_machine_gets_one_thread(monkeypatch):
    p = _policy(monkeypatch, 4.0)
    assert p.threads_for(2 * 2048 ** 3) == 1
    p = _policy(monkeypatch, 3.5)
    assert p.threads_for(2 * 2048 ** 3) == 4


def test_forced_count(monkeypatch):
    p = _policy(monkeypatch, 10.0)
    monkeypatch.setenv('TINYJAX_BLAS_THREADS', '3')
    assert p.threads_for(10) == 3


def test_products_match_numpy_on_any_thread_count(monkeypatch):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 200), dtype=np.float32)
    b = rng.standard_normal((200, 100), dtype=np.float32)
    f = tinyjax.jit(lambda a, b: jnp.tanh(a @ b))
    got = []
    for n in ('1', '2'):
        monkeypatch.setenv('TINYJAX_BLAS_THREADS', n)
        got.append(np.asarray(f(jnp.asarray(a), jnp.asarray(b))))
        assert blas.blas_threads._current == int(n)
    want = np.tanh(a.astype(np.float64) @ b.astype(np.float64))
    for g in got:
        np.testing.assert_allclose(g, want, rtol=2e-5, atol=2e-5)
