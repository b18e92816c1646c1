"""Row-reduction kernels: warp rows for short rows, block rows split into chunks for a
few long rows (compiler/codegen_reduce.py). The host runs the same generated code with
the same row/chunk indexing, so these check the layouts' arithmetic on the CPU; a fake
SM count makes the host split rows the way an H100 (132 SMs) would."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax.compiler import codegen_reduce

BIG = (1 << 20) + 37


@pytest.fixture
def launches(monkeypatch):
    """Records (grid, block, trailing scalars) of every kernel launch on the default
    device (the CPU's host launches, or the emulated GPU's)."""
    seen = []
    dev = jax.devices()[0]
    real = dev.kernel_caller

    def caller(fn, grid, block, scalars, work=0):
        inner = real(fn, grid, block, scalars, work)

        def call(bufs):
            seen.append((grid[0], block[0], [int(a) for a in scalars]))
            return inner(bufs)
        return call
    monkeypatch.setattr(dev, 'kernel_caller', caller)
    return seen


@pytest.fixture
def h100(monkeypatch):
    """Make the CPU device split rows as a GPU with 132 SMs would."""
    monkeypatch.setattr(jax.devices()[0], 'sm_count', 132, raising=False)
    jax.clear_caches()    # jit caches by function: plans made for another SM count go
    yield
    jax.clear_caches()


def _ints(shape, lo, hi, dtype, seed=0):
    return np.random.default_rng(seed).integers(lo, hi, shape).astype(dtype)


def _full_reductions(x):
    return jnp.sum(x), jnp.max(x), jnp.min(x)


def test_split_chunks_fill_the_gpu_but_keep_chunks_long():
    assert codegen_reduce.split_chunks(1, 1 << 26, 132) == 4 * 132
    assert codegen_reduce.split_chunks(1, 10000, 132) == 2          # chunks >= MIN_CHUNK
    assert codegen_reduce.split_chunks(3, 1 << 20, 1) == 2
    assert codegen_reduce.split_chunks(16384, 4096, 132) == 1       # many rows: no split
    assert codegen_reduce.split_chunks(1, 100, 1) == 1


@pytest.mark.parametrize('sms', [1, 132])
def test_full_sums_of_large_arrays_are_exact(monkeypatch, launches, sms):
    monkeypatch.setattr(jax.devices()[0], 'sm_count', sms, raising=False)
    jax.clear_caches()    # _full_reductions' Program was planned for another SM count
    chunks = codegen_reduce.split_chunks(1, BIG, sms)
    # Small integers in float32: every partial sum is exact, so any chunking must agree.
    xf = _ints(BIG, 0, 4, np.float32)
    xi = _ints(BIG, -1000, 1000, np.int32, seed=1)
    for x in (xf, xi):
        got = jax.jit(_full_reductions)(jnp.asarray(x))
        assert [g.item() for g in got] == [x.sum(dtype=x.dtype).item(), x.max().item(), x.min().item()]
    # One kernel, reductions + 1 passes over BIG / chunks columns each. On a GPU device
    # the planner caps blocks per SM by the kernel's register count (read from its cubin),
    # which can only lower the chunk count.
    got = launches[-4][2][-2]
    assert got == chunks or got in {codegen_reduce.split_chunks(1, BIG, sms, r)
                                    for r in range(1, codegen_reduce.BLOCKS_PER_SM)}
    assert [scalars[-2:] for _, _, scalars in launches[-4:]] == [[got, p] for p in range(4)]
    assert all(block == codegen_reduce.ROW_BLOCK for _, block, _ in launches)
    assert launches[-1][0] == 1                                      # the combine: one block


def test_full_reductions_of_bool_and_wrapping_int_products(h100):
    b = np.random.default_rng(2).random(BIG) > 0.3
    f = jax.jit(lambda b: (jnp.any(b), jnp.all(b), jnp.sum(b), jnp.any(~b[:-1] & False)))
    assert [bool(v) if v.dtype == np.bool_ else int(v) for v in f(jnp.asarray(b))] == \
        [True, False, int(b.sum()), False]
    x = _ints(BIG, 1, 4, np.int32, seed=3)
    with np.errstate(over='ignore'):
        want = np.prod(x)                     # wraps modulo 2^32, exact in any order
    assert int(jax.jit(jnp.prod)(jnp.asarray(x))) == int(want)


def test_float32_sum_of_large_array_is_accurate_and_reproducible(h100):
    x = np.random.default_rng(4).standard_normal(BIG).astype(np.float32)
    f = jax.jit(lambda x: (jnp.sum(x), jnp.sum(x * x), jnp.max(jnp.abs(x))))
    a, b = f(jnp.asarray(x)), f(jnp.asarray(x))
    assert all(np.asarray(p).tobytes() == np.asarray(q).tobytes() for p, q in zip(a, b))
    np.testing.assert_allclose(float(a[0]), x.sum(dtype=np.float64), atol=1e-6 * np.abs(x).sum())
    np.testing.assert_allclose(float(a[1]), (x.astype(np.float64) ** 2).sum(), rtol=1e-5)
    assert float(a[2]) == np.abs(x).max()


@pytest.mark.parametrize('sms', [1, 132])
def test_few_long_rows_and_reductions_over_leading_axes(monkeypatch, sms):
    monkeypatch.setattr(jax.devices()[0], 'sm_count', sms, raising=False)
    x = _ints((3, 50000), -50, 50, np.int32)
    f = jax.jit(lambda x: (jnp.sum(x, 1), jnp.max(x, 1), jnp.sum(x, 0)[:5]))
    got = f(jnp.asarray(x))
    np.testing.assert_array_equal(got[0], x.sum(1))
    np.testing.assert_array_equal(got[1], x.max(1))
    np.testing.assert_array_equal(got[2], x.sum(0)[:5])
    y = _ints((20000, 3, 2), -9, 9, np.float32)      # rows (3, 2) are strided in memory
    got = jax.jit(lambda y: (jnp.sum(y, 0), jnp.min(y, (0, 2))))(jnp.asarray(y))
    np.testing.assert_array_equal(got[0], y.sum(0))
    np.testing.assert_array_equal(got[1], y.min((0, 2)))


def softmax(x):
    e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)


def layernorm(x):
    m = jnp.mean(x, -1, keepdims=True)
    return (x - m) * jax.lax.rsqrt(jnp.mean((x - m) ** 2, -1, keepdims=True) + 1e-5)


def _np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np_layernorm(x):
    x = x.astype(np.float64)
    m = x.mean(-1, keepdims=True)
    return (x - m) / np.sqrt(((x - m) ** 2).mean(-1, keepdims=True) + 1e-5)


def test_split_softmax_writes_every_chunk_in_one_kernel(h100, launches):
    x = np.random.default_rng(5).standard_normal((2, 30000)).astype(np.float32) * 4
    f = lambda x: (softmax(x), jnp.sum(x, 1))   # noqa: E731
    assert len(jax.jit(f).lower(jnp.asarray(x)).compile().kernels) == 1
    sm, s = jax.jit(f)(jnp.asarray(x))
    chunks = codegen_reduce.split_chunks(2, 30000, 132)
    assert chunks == 7
    # max, sum(x), sum(exp) each fold per chunk; the last pass writes every chunk.
    assert [(grid, scalars[-1]) for grid, _, scalars in launches] == \
        [(2 * chunks, p) for p in range(4)]
    np.testing.assert_allclose(sm, _np_softmax(x), rtol=2e-5, atol=1e-9)
    np.testing.assert_allclose(s, x.sum(1, dtype=np.float64), rtol=1e-5, atol=1e-2)


@pytest.mark.parametrize('cols', [1, 3, 31, 32, 33, 100, 512])
def test_many_short_rows_get_a_warp_each(launches, cols):
    rows = 1003                                   # not a multiple of the 8 rows per block
    x = np.random.default_rng(cols).standard_normal((rows, cols)).astype(np.float32)
    xi = _ints((rows, cols), -100, 100, np.int32)
    f = jax.jit(lambda x, xi: (softmax(x), layernorm(x), jnp.sum(xi, 1), jnp.min(xi, 1),
                               jnp.any(xi > 90, 1)))
    got = f(jnp.asarray(x), jnp.asarray(xi))
    np.testing.assert_allclose(got[0], _np_softmax(x), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(got[1], _np_layernorm(x), rtol=1e-4, atol=2e-4)
    np.testing.assert_array_equal(got[2], xi.sum(1))
    np.testing.assert_array_equal(got[3], xi.min(1))
    np.testing.assert_array_equal(got[4], (xi > 90).any(1))
    assert launches and all(block == codegen_reduce.WARP_BLOCK and scalars == [rows]
                            for _, block, scalars in launches)


@pytest.mark.parametrize('shape', [(1000, 100), (64, 1024), (16, 4096)])
def test_softmax_and_layernorm_stay_one_kernel(shape):
    x = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    for f, ref in ((softmax, _np_softmax), (layernorm, _np_layernorm)):
        ks = jax.jit(f).lower(jnp.asarray(x)).compile().kernels
        assert len(ks) == 1 and ks[0]['name'].startswith('r')
        np.testing.assert_allclose(jax.jit(f)(jnp.asarray(x)), ref(x), rtol=1e-4, atol=1e-5)


def test_split_rows_with_mixed_accumulators(x64, h100):
    x = np.random.default_rng(7).standard_normal((3, 40000))
    def f(x):
        return (jnp.sum(x, 1), jnp.max(x.astype(jnp.float32), 1), jnp.sum(x > 0, 1),
                jnp.min((x * 100).astype(jnp.int64), 1))
    assert len(jax.jit(f).lower(jnp.asarray(x)).compile().kernels) == 1
    got = jax.jit(f)(jnp.asarray(x))
    np.testing.assert_allclose(got[0], x.sum(1), rtol=1e-12)
    np.testing.assert_array_equal(got[1], x.astype(np.float32).max(1))
    np.testing.assert_array_equal(got[2], (x > 0).sum(1))
    np.testing.assert_array_equal(got[3], (x * 100).astype(np.int64).min(1))


@pytest.mark.gpu
def test_gpu_row_layouts_match_numpy_and_repeat_bitwise():
    gpu = jax.devices('gpu')[0]
    rng = np.random.default_rng(8)
    full = (rng.random(1 << 26) < 0.125).astype(np.float32)  # sums stay below 2^24: exact
    short = rng.standard_normal((1003, 33)).astype(np.float32)  # warp rows
    long_rows = rng.standard_normal((3, 300000)).astype(np.float32) * 4
    # (float32 sums over 300000 columns: 1e-3 leaves room for any summation order)
    for f, x, ref, rtol in ((jnp.sum, full, lambda x: x.sum(dtype=np.float64), 0),
                            (softmax, short, _np_softmax, 1e-5),
                            (softmax, long_rows, _np_softmax, 1e-3),
                            (layernorm, long_rows, _np_layernorm, 1e-3)):
        g = jax.jit(f)
        a, b = g(jax.device_put(x, gpu)), g(jax.device_put(x, gpu))
        assert a.device.platform == 'gpu'
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
        np.testing.assert_allclose(np.asarray(a), ref(x), rtol=rtol, atol=1e-6)
