"""Matrix products on the CPU (tinyjax/backends/blas.py): OpenBLAS on one thread, a big
product sliced over the host pool, the same bits whatever the pool's threads do, and
NumPy's answer to float rounding."""
import numpy as np
import pytest

import tinyjax
import tinyjax.numpy as jnp
from tinyjax.backends import blas
from tinyjax.compiler import hostcc


@pytest.fixture
def gemm():
    if hostcc.launcher(wait=True) is None or blas.blas.library() is None:
        pytest.skip('no host launcher or no OpenBLAS in this process')
    return hostcc.gemm_slot[0]


@pytest.mark.parametrize('load', [0.0, 3.5, 4.0])
def test_thread_counts(monkeypatch, load):
    """One thread for a small product, every usable CPU otherwise, whatever the load
    (a busy machine runs the same slices on one thread: the same bits)."""
    monkeypatch.delenv('TINYJAX_BLAS_THREADS', raising=False)
    monkeypatch.setattr(blas, 'usable_cpus', lambda: 4)
    monkeypatch.setattr(blas.os, 'getloadavg', lambda: (load, load, load))
    b = blas.Blas()
    assert b.threads_for(blas.SMALL_FLOPS - 1) == 1
    assert b.threads_for(2 * 512 ** 3) == 4
    assert b.busy() == (load >= 4)
    monkeypatch.setenv('TINYJAX_BLAS_THREADS', '3')
    assert b.threads_for(10) == 3



def test_busy_leaves_out_the_process_own_load(monkeypatch):
    """The load average counts this process's own threads: keeping both cores of a
    2-core machine busy (load near 2) is not another process's load, or a training loop
    would drop its products to one thread whenever a little noise joined in; two other
    processes at full speed are. The load average here moves as Linux's does (a
    1-minute exponential average of the runnable threads)."""
    clock = {'wall': 100.0, 'cpu': 0.0, 'load': 0.0}
    monkeypatch.setattr(blas, 'usable_cpus', lambda: 2)
    monkeypatch.setattr(blas.time, 'monotonic', lambda: clock['wall'])
    monkeypatch.setattr(blas.time, 'process_time', lambda: clock['cpu'])
    monkeypatch.setattr(blas.os, 'getloadavg', lambda: (clock['load'],) * 3)

    def run(seconds, own_cores, runnable):
        """busy() every 1.5 s while this process uses `own_cores` of CPU and `runnable`
        threads of all processes (this one's included) want to run; the load average
        starts where it is."""
        b, seen = blas.Blas(), []
        for _ in range(int(seconds / 1.5)):
            clock['wall'] += 1.5
            clock['cpu'] += 1.5 * own_cores
            clock['load'] += (1 - np.exp(-1.5 / 60)) * (runnable - clock['load'])
            seen.append(b.busy())
        return seen
    # alone, both cores busy for three minutes, a little noise from elsewhere
    assert not any(run(180, 1.9, 2.3))
    clock['load'] = 0.0
    # two other processes at full speed: this one's two threads get a core between
    # them. Busy once the load average has risen, and it stays so
    seen = run(180, 1.0, 4.0)
    assert not seen[0] and all(seen[60:])
    # the old rule (the load average alone against the CPUs) would have called the
    # first case busy: the load average rose to 2.3
    clock['load'] = 0.0
    run(180, 1.9, 2.3)
    assert clock['load'] > 2.0

def _layouts(rng, nb, m, k, n, dtype):
    """(a, b) in every layout BLAS reads: plain, transposed, and a strided slice."""
    a = rng.standard_normal((nb, m, k)).astype(dtype)
    b = rng.standard_normal((nb, k, n)).astype(dtype)
    at = np.ascontiguousarray(a.transpose(0, 2, 1)).transpose(0, 2, 1)
    bt = np.ascontiguousarray(b.transpose(0, 2, 1)).transpose(0, 2, 1)
    wide = np.zeros((nb, m, k + 5), dtype)
    wide[:, :, 2:k + 2] = a
    return [(a, b), (at, b), (a, bt), (at, bt), (wide[:, :, 2:k + 2], bt)]


SHAPES = [(1, 128, 784, 512), (1, 784, 128, 512), (1, 128, 512, 10), (3, 100, 37, 250),
          (2, 1000, 17, 33), (8, 64, 64, 64), (1, 17, 5000, 19)]


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('shape', SHAPES)
def test_sliced_products(gemm, shape, dtype):
    """Every layout and split: within rounding of the float64 product, and the same bits
    when one thread runs all the slices (the pool busy) as when the pool shares them."""
    rng = np.random.default_rng(sum(shape))
    lib = blas.blas.library()
    address = lib[1][np.dtype(dtype)]
    blas.blas.set(1)
    for a, b in _layouts(rng, *shape, dtype):
        assert blas._operand(a) is not None and blas._operand(b) is not None
        shared = blas._sliced(gemm, address, lib[2], a, b, threads=4)
        alone = blas._sliced(gemm, address, lib[2], a, b, threads=4, pool=False)
        numpy_slices = blas._sliced(None, address, lib[2], a, b, threads=4)
        np.testing.assert_array_equal(shared, alone)
        np.testing.assert_array_equal(shared, numpy_slices)
        want = a.astype(np.float64) @ b.astype(np.float64)
        tol = 1e-5 if dtype == np.float32 else 1e-13
        scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
        assert np.all(np.abs(shared - want) <= tol * scale), shape


def test_layouts_blas_cannot_read():
    x = np.zeros((2, 6, 8), np.float32)
    assert blas._operand(x[:, :, ::2]) is None           # neither axis unit-stride
    assert blas._operand(x[:, ::-1]) is None             # negative stride
    assert blas._operand(x.transpose(0, 2, 1))[0] == blas.TRANS
    assert blas._operand(x[:, :1, :])[:2] == (blas.NO_TRANS, 8)


def test_jit_products_on_any_thread_count(monkeypatch):
    """A jitted product through the sliced path (big enough) and through one NumPy call
    agree with NumPy to float32 rounding; odd layouts (a transposed operand) included."""
    hostcc.launcher(wait=True)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 200), dtype=np.float32)
    b = rng.standard_normal((100, 200), dtype=np.float32)
    want = np.tanh(a.astype(np.float64) @ b.T.astype(np.float64))
    for n in ('1', '2', '3'):      # read when the program is built
        monkeypatch.setenv('TINYJAX_BLAS_THREADS', n)
        f = tinyjax.jit(lambda a, b: jnp.tanh(a @ b.T))
        got = np.asarray(f(jnp.asarray(a), jnp.asarray(b)))
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
    assert blas.blas._current == 1


def test_jit_products_keep_their_bits_when_busy_or_before_the_launcher(monkeypatch, gemm):
    """A float32 product big enough to slice: the same bits on a busy machine (the
    calling thread runs the slices), before the launcher is built (NumPy runs them),
    and with the pool sharing them. (One NumPy call over the whole product differed
    from the slices in 5% of the elements on a 2-core EPYC: a fallback to it made a
    program's bits depend on the load average.)"""
    monkeypatch.delenv('TINYJAX_BLAS_THREADS', raising=False)
    monkeypatch.setattr(blas, 'usable_cpus', lambda: 2)
    rng = np.random.default_rng(3)
    a = rng.standard_normal((128, 784), dtype=np.float32)
    w = rng.standard_normal((784, 512), dtype=np.float32)
    matmul = blas.host_matmul(2 * 128 * 784 * 512)
    got = {}
    for name, load, slot in (('pool', 0.0, gemm), ('busy', 9.0, gemm), ('no launcher', 0.0, None)):
        monkeypatch.setattr(blas.os, 'getloadavg', lambda load=load: (load, load, load))
        monkeypatch.setattr(hostcc, 'gemm_slot', [slot])
        monkeypatch.setattr(blas, 'blas', blas.Blas())
        got[name] = matmul(a[None], w[None])[0]
    assert got['pool'].tobytes() == got['busy'].tobytes() == got['no launcher'].tobytes()
    np.testing.assert_allclose(got['pool'], a.astype(np.float64) @ w, rtol=1e-4, atol=1e-4)


def test_a_program_of_products_alone_loads_the_launcher(tmp_path):
    """A program with no host kernel, only a product big enough to slice, loads the
    launcher's gemm as kernels do: a cached build at once, else built after 50 calls.
    (It never asked for it: such a program ran its slices as NumPy calls on one thread
    for good, at half the speed on two cores.)"""
    import os
    import subprocess
    import sys
    code = ('import sys, threading, numpy as np, tinyjax as jax\n'
            'from tinyjax.compiler import hostcc\n'
            'a = jax.numpy.ones((128, 784), np.float32)\n'
            'b = jax.numpy.ones((784, 512), np.float32)\n'
            'f = jax.jit(lambda a, b: a @ b)\n'
            'for _ in range(int(sys.argv[1])):\n'
            '    out = f(a, b)\n'
            'for t in threading.enumerate():\n'
            '    if t.name == "tinyjax-launcher":\n'
            '        t.join()\n'
            'print(hostcc.gemm_slot[0] is not None, float(np.asarray(out).max()))\n')
    env = dict(os.environ, TINYJAX_CACHE_DIR=str(tmp_path), TINYJAX_BLAS_THREADS='2')
    for calls, want in (('60', 'True'), ('1', 'True')):   # an empty cache, then built
        run = subprocess.run([sys.executable, '-c', code, calls], capture_output=True,
                             text=True, env=env, timeout=300)
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == [want, '784.0'], (calls, run.stdout)
