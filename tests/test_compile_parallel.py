"""Compiling a Program: modules split for parallel builds."""
import numpy as np

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax.compiler import program


class _K:
    def __init__(self, name, n):
        self.name, self.source = name, 'x' * n


def test_chunks_are_balanced_deterministic_and_keep_order():
    ks = [_K(f'k{i}', n) for i, n in enumerate([50, 10, 40, 10, 30, 20])]
    chunks = program.compile_chunks(ks, 3)
    assert chunks == program.compile_chunks(ks, 3)
    assert sorted(k.name for c in chunks for k in c) == sorted(k.name for k in ks)
    for c in chunks:
        assert [ks.index(k) for k in c] == sorted(ks.index(k) for k in c)
    loads = [sum(len(k.source) for k in c) for c in chunks]
    assert max(loads) - min(loads) <= 10
    assert len(program.compile_chunks(ks[:2], 8)) == 2
    assert program.compile_chunks(ks, 1) == [ks]


def _many_kernels(x):
    # Reductions over differently sized rows cannot share a kernel: six kernels.
    outs = []
    for k in range(6):
        y = jnp.exp(x[:, :k + 20] * (k + 1) / 7.0)
        outs.append(y / jnp.sum(y, axis=1, keepdims=True) + k)
    return outs


def test_split_modules_run_and_are_all_checked(monkeypatch):
    monkeypatch.setattr(program, 'compile_workers', lambda: 4)
    x = np.random.default_rng(0).standard_normal((8, 33)).astype(np.float32)
    before = len(program.checked_sources)
    f = jax.jit(_many_kernels)
    outs = f(jnp.asarray(x))
    prog = f.lower(jnp.asarray(x)).program
    chunks = program.compile_chunks(prog.kernels, 4)
    assert len(prog.kernels) >= 6 and len(chunks) == 4
    for k, o in enumerate(outs):
        y = np.exp(x[:, :k + 20] * (k + 1) / 7.0)
        np.testing.assert_allclose(np.asarray(o), y / y.sum(1, keepdims=True) + k, rtol=1e-5)
    if program.check_arches():
        # every module of the split went through NVRTC for every checked arch
        assert len(program.checked_sources) - before == 4 * len(program.check_arches())
