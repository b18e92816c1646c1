"""Host kernels split over threads (kernels/tj_pylaunch.cpp, backends/cpu.host_threads).

A big launch runs as several host blocks shared by N threads; each block walks one
contiguous share of every grid-stride loop (tj_grid_span / tj_block_span in
tj_common.cuh). What is promised: on the host a result does not depend on the threads or
the blocks, bit for bit. Each element, each
row and each (row, chunk) task of a split row is computed by one host thread in a fixed
order, the partials of a split row are combined in chunk order, and the chunks come
from the device's SM count (1 on the CPU, or the `h100` fixture's 132), never from the
thread count. (Host and GPU results are not promised equal: a GPU warp folds a row in
another order.) TINYJAX_HOST_THREADS=N forces N threads for every launch, even on two
cores, so these tests split small kernels too."""
import ctypes
import os
import threading

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax.backends import cpu
from tinyjax.compiler import codegen_reduce, hostcc
from tinyjax.core.array import ArrayImpl
from test_jit_reduce import _np_layernorm, _np_softmax, layernorm, softmax

BIG = (1 << 20) + 37


@pytest.fixture
def launch():
    fn = hostcc.launcher(wait=True)
    if fn is None:
        pytest.skip('no host launcher (no C++ compiler or Python headers)')
    return fn


@pytest.fixture
def threads_used(monkeypatch, launch):
    """The thread count of every launch from here on."""
    seen = []

    def spy(address, arrays, scalars, threads=1, *rest):
        seen.append(threads)
        return launch(address, arrays, scalars, threads, *rest)
    monkeypatch.setattr(hostcc, 'launch_slot', [spy])
    return seen


@pytest.fixture
def h100(monkeypatch):
    monkeypatch.setattr(jax.devices()[0], 'sm_count', 132, raising=False)
    jax.clear_caches()    # jit caches by function: plans made for another SM count go
    yield
    jax.clear_caches()


def run(monkeypatch, threads, f, *args):
    """f jitted afresh (its launchers read TINYJAX_HOST_THREADS when built), as NumPy."""
    monkeypatch.setenv('TINYJAX_HOST_THREADS', str(threads))
    out = jax.jit(lambda *a: f(*a))(*args)
    return [np.asarray(o) for o in (out if isinstance(out, (tuple, list)) else [out])]


def same_bits(a, b):
    return len(a) == len(b) and all(p.tobytes() == q.tobytes() for p, q in zip(a, b))


def _chain(x, b):
    return jnp.tanh(x * 1.5 + 0.5) * x - b[..., :1] + jnp.exp(-x * x)


def _np_chain(x, b):
    return np.tanh(x * 1.5 + 0.5) * x - b[..., :1] + np.exp(-x * x)


@pytest.mark.parametrize('n', [1, 3, 7, 1000, 4099, (1 << 16) + 5])
def test_loop_kernels_match_numpy_on_every_thread_count(monkeypatch, threads_used, n):
    rng = np.random.default_rng(n)
    x, b = rng.standard_normal((2, n)).astype(np.float32)
    want = _np_chain(x, b)
    results = [run(monkeypatch, t, _chain, x, b) for t in (1, 3, 4)]
    assert set(threads_used) == {1, 3, 4}
    np.testing.assert_allclose(results[0][0], want, rtol=2e-6, atol=2e-6)
    assert same_bits(results[0], results[1]) and same_bits(results[0], results[2])


def _bcast(x, m, b, t):
    # a row broadcast (m), a column broadcast (b), a transposed read (t) and math calls
    return jnp.exp(x - m) * b + t.T - jnp.tanh(x * b)


def _np_bcast(x, m, b, t):
    return np.exp(x - m) * b + t.T - np.tanh(x * b)


# rows of a multiple of 8 columns (at least 16) walk row by row on the host
# (codegen._host_rows); the others keep the flat loop
@pytest.mark.parametrize('shape', [(5, 8), (3, 16), (37, 1000), (2, 24), (1025, 40), (7, 4101),
                                   (300, 4104)])
def test_broadcast_kernels_match_numpy_on_every_thread_count(monkeypatch, threads_used, shape):
    rows, cols = shape
    rng = np.random.default_rng(cols)
    x = rng.standard_normal(shape).astype(np.float32)
    m = rng.standard_normal((rows, 1)).astype(np.float32)
    b = rng.standard_normal(cols).astype(np.float32)
    t = rng.standard_normal((cols, rows)).astype(np.float32)
    src = jax.jit(_bcast).lower(x, m, b, t).program.kernels[0].source
    assert ('tj_host_rows' in src) == (cols >= 16 and cols % 8 == 0)
    results = [run(monkeypatch, n, _bcast, x, m, b, t) for n in (1, 3, 4)]
    np.testing.assert_allclose(results[0][0], _np_bcast(x, m, b, t), rtol=1e-5, atol=1e-5)
    assert same_bits(results[0], results[1]) and same_bits(results[0], results[2])
    assert set(threads_used) == {1, 3, 4}


def test_misaligned_views_split_on_the_scalar_path(monkeypatch, threads_used):
    dev = jax.devices()[0]
    base = np.random.default_rng(0).standard_normal(70000).astype(np.float32)
    b = np.ones(69000, np.float32)
    for off in (1, 3):
        x = base[off:off + 69000]          # contiguous, pointer off by 4*off bytes
        got = run(monkeypatch, 4, _chain, ArrayImpl(x, dev), ArrayImpl(b, dev))
        np.testing.assert_allclose(got[0], _np_chain(x, b), rtol=2e-6, atol=2e-6)
    assert threads_used == [4, 4]


def _rows(x):
    return softmax(x), layernorm(x), jnp.sum(x, -1), jnp.max(x, -1)


# warp rows (<= 512 columns): odd row counts leave a host block a partial group of 8;
# block rows: one task per row; few long rows: split into chunks (several passes).
@pytest.mark.parametrize('shape', [(3, 5), (1001, 37), (9, 512), (13, 700), (3, 40000)])
def test_row_kernels_match_numpy_on_every_thread_count(monkeypatch, threads_used, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32) * 3
    results = [run(monkeypatch, t, _rows, x) for t in (1, 2, 4)]
    sm, ln, s, m = results[0]
    np.testing.assert_allclose(sm, _np_softmax(x), rtol=2e-5, atol=1e-9)
    np.testing.assert_allclose(ln, _np_layernorm(x), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(s, x.sum(-1, dtype=np.float64), rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(m, x.max(-1))
    assert same_bits(results[0], results[1]) and same_bits(results[0], results[2])
    assert {1, 2, 4} <= set(threads_used)


def test_split_rows_as_on_an_h100_are_the_same_bits_on_any_thread_count(monkeypatch, h100):
    # 132 SMs: a full sum of BIG floats is one row in 256 chunks (of at least 4096), a
    # softmax of 2 rows of 30000 two rows of 7; each pass's tasks are shared by the host
    # blocks, and the combine runs in chunk order whatever the blocks.
    x = np.random.default_rng(2).standard_normal(BIG).astype(np.float32)
    y = np.random.default_rng(3).standard_normal((2, 30000)).astype(np.float32)

    def f(x, y):
        return jnp.sum(x), jnp.max(x), jnp.sum(x * x), softmax(y), layernorm(y)
    assert codegen_reduce.split_chunks(1, BIG, 132) == 256
    assert codegen_reduce.split_chunks(2, 30000, 132) == 7
    results = [run(monkeypatch, t, f, x, y) for t in (1, 3, 4)]
    s, mx, ss, sm, ln = results[0]
    np.testing.assert_allclose(s, x.sum(dtype=np.float64), atol=1e-6 * np.abs(x).sum())
    assert mx == x.max()
    np.testing.assert_allclose(ss, (x.astype(np.float64) ** 2).sum(), rtol=1e-5)
    np.testing.assert_allclose(sm, _np_softmax(y), rtol=2e-5, atol=1e-9)
    np.testing.assert_allclose(ln, _np_layernorm(y), rtol=1e-4, atol=1e-4)
    assert same_bits(results[0], results[1]) and same_bits(results[0], results[2])


def test_full_sum_on_the_cpu_is_the_same_bits_on_any_thread_count(monkeypatch):
    x = np.random.default_rng(4).standard_normal(BIG).astype(np.float32)
    sums = [run(monkeypatch, t, jnp.sum, x) for t in (1, 2, 4, 7)]
    assert all(same_bits(sums[0], s) for s in sums[1:])
    np.testing.assert_allclose(sums[0][0], x.sum(dtype=np.float64), atol=1e-6 * np.abs(x).sum())


def test_the_ctypes_fallback_runs_one_block(monkeypatch, launch):
    x, b = np.random.default_rng(8).standard_normal((2, 70001)).astype(np.float32)
    threaded = run(monkeypatch, 4, _chain, x, b)
    monkeypatch.setattr(hostcc, 'launch_slot', [None])
    monkeypatch.setenv('TINYJAX_HOST_LAUNCHER', '0')
    assert same_bits(run(monkeypatch, 4, _chain, x, b), threaded)


def test_random_kernels_match_the_eager_numpy_rule(monkeypatch, threads_used):
    key = jax.random.PRNGKey(7)
    eager = (np.asarray(jax.random.uniform(key, (100003,))),
             np.asarray(jax.random.bits(key, (5, 7))))
    for t in (1, 4):
        got = run(monkeypatch, t, lambda k: (jax.random.uniform(k, (100003,)),
                                              jax.random.bits(k, (5, 7))), key)
        assert same_bits(got, list(eager))
    assert {1, 4} <= set(threads_used)


def test_automatic_thread_count(monkeypatch):
    monkeypatch.delenv('TINYJAX_HOST_THREADS', raising=False)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    assert cpu.host_threads(cpu.MIN_THREAD_WORK - 1, 32) == 1
    assert cpu.host_threads(cpu.MIN_THREAD_WORK, 32) == min(cpus, 32)
    assert cpu.host_threads(1 << 24, 1) == 1                 # one task: nothing to split
    monkeypatch.setenv('TINYJAX_HOST_THREADS', '3')
    assert cpu.host_threads(1, 1) == 3


SHARES = r'''#include "tj_common.cuh"
extern "C" __global__ void shares(int* __restrict__ out0, const int n) {
  const tj_span<int> span = tj_grid_span(n);
  for (int i = span.begin; i < span.end; i += span.step)
    out0[i] = (int)blockIdx.x * 100 + (int)gridDim.x;
}
'''


def test_each_block_writes_one_contiguous_share(launch):
    lib = hostcc.build(SHARES, 'shares', wrap=['shares'])
    address = ctypes.cast(lib.tjw_shares, ctypes.c_void_p).value
    # Shares are whole groups of 16 elements (TJ_HOST_GROUP): ceil(40 / 4) = 10 -> 16.
    out = np.full(40, -1, np.int32)
    launch(address, [out], (40,), 4)               # 4 blocks: 16, 16, 8 and an empty one
    assert out.tolist() == [4] * 16 + [104] * 16 + [204] * 8
    launch(address, [out], (40,), 2, 16)           # 16 blocks on 2 threads: 13 are empty
    assert out.tolist() == [16] * 16 + [116] * 16 + [216] * 8
    # A direct call afterwards (the ctypes path) runs one whole block again.
    lib.shares(out.ctypes.data_as(ctypes.c_void_p), ctypes.c_int(40))
    assert out.tolist() == [1] * 40


def test_concurrent_launches_from_python_threads(monkeypatch, launch):
    # pmap runs CPU devices in threads: two launches may meet the pool at once (the
    # second runs its blocks on its own thread) and must not see each other's blockIdx.
    monkeypatch.setenv('TINYJAX_HOST_THREADS', '3')
    f = jax.jit(lambda x, b: (_chain(x, b), jnp.sum(x * b)))
    rng = np.random.default_rng(5)
    data = [rng.standard_normal((2, 70001)).astype(np.float32) for _ in range(2)]
    want = [f(x, b) for x, b in data]
    errors = []

    def worker(k):
        x, b = data[k]
        for _ in range(30):
            got = f(x, b)
            if not same_bits([np.asarray(g) for g in got], [np.asarray(w) for w in want[k]]):
                errors.append(k)
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    np.testing.assert_allclose(np.asarray(want[0][0]), _np_chain(*data[0]), rtol=2e-6, atol=2e-6)


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='no fork')
def test_a_forked_child_gets_its_own_pool(monkeypatch, launch):
    monkeypatch.setenv('TINYJAX_HOST_THREADS', '2')
    x, b = np.random.default_rng(6).standard_normal((2, 70000)).astype(np.float32)
    f = jax.jit(_chain)
    want = np.asarray(f(x, b))                     # the parent's pool has started
    pid = os.fork()
    if pid == 0:                                   # child: launch again, report by exit code
        ok = np.asarray(f(x, b)).tobytes() == want.tobytes()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
