"""Row kernels in their layouts against NumPy: column reductions (a thread per output,
codegen_columns), the multi-accumulator fold with its column tails, NaN in max/min at
every position of the fold, and reproducibility (same bits run to run, aligned or not)."""
import re

import numpy as np
import pytest

import tinyjax
import tinyjax.numpy as jnp
from tinyjax.backends import simt
from tinyjax.compiler import codegen_reduce


def _kernels(f, *args):
    return tinyjax.jit(f).lower(*args).program.kernels


@pytest.mark.parametrize('shape,axes', [((300, 257), (0,)), ((5, 7, 300), (0, 1)),
                                        ((64, 2, 256), (0,))])
@pytest.mark.parametrize('op', ['sum', 'max', 'min', 'prod'])
def test_column_reductions_match_numpy(shape, axes, op):
    rng = np.random.default_rng(3)
    x = rng.uniform(0.5, 1.5, shape).astype(np.float32)
    f = lambda v: getattr(jnp, op)(v, axis=axes)
    (k,) = _kernels(f, jnp.asarray(x))
    assert k.layout.columns
    got = np.asarray(tinyjax.jit(f)(jnp.asarray(x)))
    want = getattr(np, op)(x.astype(np.float64), axis=axes)
    np.testing.assert_allclose(got, want, rtol=3e-5 if op != 'prod' else 1e-4)


@pytest.mark.parametrize('dtype', [np.int32, np.uint8, np.bool_])
def test_integer_and_bool_column_reductions(dtype):
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, (33, 512)).astype(dtype)
    for name in ('sum', 'max', 'min', 'any', 'all'):
        f = lambda v: getattr(jnp, name)(v, axis=0)
        got = np.asarray(tinyjax.jit(f)(jnp.asarray(x)))
        np.testing.assert_array_equal(got, np.asarray(getattr(jnp, name)(jnp.asarray(x), axis=0)))
        np.testing.assert_array_equal(got, getattr(np, name)(x, axis=0))


def test_column_reduction_with_fused_prologue_and_row_outputs():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((128, 512)).astype(np.float32)
    b = rng.standard_normal(512).astype(np.float32)
    f = lambda x, b: (jnp.log(jnp.sum(jnp.exp(x + b), axis=0)) * 2, jnp.sum(x, axis=0) - b)
    got = tinyjax.jit(f)(jnp.asarray(x), jnp.asarray(b))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(np.asarray(got[0]), np.log(np.exp(x64 + b).sum(0)) * 2, rtol=2e-5)
    np.testing.assert_allclose(np.asarray(got[1]), x64.sum(0) - b, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize('cols', [1, 3, 4, 7, 31, 33, 255, 513, 1030, 5001])
def test_row_folds_cover_every_column(cols):
    rng = np.random.default_rng(cols)
    x = rng.standard_normal((6, cols)).astype(np.float32)
    got = tinyjax.jit(lambda v: (jnp.sum(v, axis=1), jnp.max(v, axis=1), jnp.min(v, axis=1)))(
        jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(got[0]), x.astype(np.float64).sum(1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(got[1]), x.max(1))
    np.testing.assert_array_equal(np.asarray(got[2]), x.min(1))


@pytest.mark.parametrize('cols', [9, 600, 4099])
def test_nan_propagates_from_every_position(cols):
    x = np.ones((cols, cols if cols < 100 else 8), np.float32).T.copy()   # rows of `cols`
    rows = x.shape[0]
    for r in range(rows):
        x[r, (r * 7919) % cols] = np.nan
    x[0, :] = 1
    x[0, cols - 1] = np.nan          # in the tail past the last whole vector
    got = tinyjax.jit(lambda v: (jnp.max(v, axis=1), jnp.min(v, axis=1)))(jnp.asarray(x))
    assert np.isnan(np.asarray(got[0])).all() and np.isnan(np.asarray(got[1])).all()


def test_results_are_the_same_bits_run_to_run_and_aligned_or_not():
    rng = np.random.default_rng(6)
    buf = rng.standard_normal(64 * 1000 + 1).astype(np.float32)
    f = tinyjax.jit(lambda v: (jnp.sum(v, axis=1), jnp.sum(v)))
    aligned = buf[:-1].reshape(64, 1000)
    shifted = buf[1:].reshape(64, 1000)          # 4 bytes off: the scalar-load path
    first = [np.asarray(o) for o in f(jnp.asarray(aligned))]
    again = [np.asarray(o) for o in f(jnp.asarray(aligned))]
    moved = np.empty(64 * 1000 + 1, np.float32)
    moved[1:] = aligned.reshape(-1)
    other = [np.asarray(o) for o in f(jnp.asarray(moved[1:].reshape(64, 1000)))]
    for a, b, c in zip(first, again, other):
        assert a.tobytes() == b.tobytes() == c.tobytes()
    np.testing.assert_allclose(np.asarray(f(jnp.asarray(shifted))[0]),
                               shifted.astype(np.float64).sum(1), rtol=1e-5, atol=1e-4)


def test_column_kernel_writes_operand_outputs_that_do_not_need_the_sum():
    rng = np.random.default_rng(7)
    g = rng.standard_normal((128, 512)).astype(np.float32)
    h = rng.standard_normal((128, 512)).astype(np.float32)
    f = lambda g, h: (g * (h > 0), jnp.sum(g * (h > 0), axis=0))
    ks = _kernels(f, jnp.asarray(g), jnp.asarray(h))
    assert len(ks) == 1 and ks[0].layout.columns
    masked, bias = tinyjax.jit(f)(jnp.asarray(g), jnp.asarray(h))
    np.testing.assert_array_equal(np.asarray(masked), g * (h > 0))
    np.testing.assert_allclose(np.asarray(bias), (g * (h > 0)).astype(np.float64).sum(0),
                               rtol=1e-5, atol=1e-5)
    # an output that needs the column sums cannot be written during the walk
    f2 = lambda x: x - jnp.sum(x, axis=0)
    (k,) = _kernels(f2, jnp.asarray(g))
    assert not k.layout.columns
    np.testing.assert_allclose(np.asarray(tinyjax.jit(f2)(jnp.asarray(g))),
                               g - g.astype(np.float64).sum(0), rtol=1e-5, atol=1e-5)


def _softmax(v):
    e = jnp.exp(v - jnp.max(v, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)


def _without_stash(f, monkeypatch, *args):
    with monkeypatch.context() as m:
        m.setattr(codegen_reduce, '_stash_target', lambda *a: None)
        return tinyjax.jit(lambda *v: f(*v))(*args)


@pytest.mark.parametrize('cols', [300, 1030, 5001])        # warp rows, block rows, tails
def test_softmax_computes_exp_once_with_the_same_bits(cols, monkeypatch):
    # The sum's fold stores exp(x - max) in the output and the epilogue divides it in
    # place: one exp per element, and the same bits as computing exp again.
    x = np.random.default_rng(cols).standard_normal((7, cols)).astype(np.float32) * 4
    (k,) = _kernels(_softmax, jnp.asarray(x))
    fold, epilogue = re.split(r'tj_(?:warp_)?row_for\(', k.source)
    assert re.search(r'\bexp\(', fold) and not re.search(r'\bexp\(', epilogue)
    got = np.asarray(tinyjax.jit(_softmax)(jnp.asarray(x)))
    np.testing.assert_array_equal(got, np.asarray(_without_stash(_softmax, monkeypatch, x)))
    e = np.exp(x.astype(np.float64) - x.max(1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(1, keepdims=True), rtol=2e-6, atol=1e-9)


@pytest.mark.parametrize('cols', [300, 1030, 5001])        # warp rows, block rows, tails
def test_division_by_a_row_value_is_one_reciprocal_per_row(cols):
    # x / b with b the same across a row: 1/b once per row, then a multiply per element,
    # which is what JAX 0.10.2's jit gives bit for bit here (its x / broadcast(b)); a
    # true division differs from it in about a third of the elements.
    x = np.random.default_rng(cols).standard_normal((7, cols)).astype(np.float32)
    f = lambda v: v / jnp.max(jnp.abs(v), axis=-1, keepdims=True)
    (k,) = _kernels(f, jnp.asarray(x))
    _, epilogue = re.split(r'tj_(?:warp_)?row_for\(', k.source)
    assert 'tj_div' not in epilogue and re.search(r'\(float\)1 / red0;', k.source)
    m = np.abs(x).max(1, keepdims=True)
    want = x * (np.float32(1) / m)
    assert np.mean(want != x / m) > 0.2
    np.testing.assert_array_equal(np.asarray(tinyjax.jit(f)(jnp.asarray(x))), want)
    dev = simt.SimtDevice(checked=True, target=simt.H200)     # the GPU variant
    np.testing.assert_array_equal(np.asarray(tinyjax.jit(f)(tinyjax.device_put(x, dev))), want)


def test_stash_only_where_it_saves_a_math_call(monkeypatch):
    x = np.random.default_rng(9).standard_normal((5, 700)).astype(np.float32)
    xs = jnp.asarray(x)
    # layernorm's epilogue does not use its last operand, (x - mean)^2; x^2 / sum(x^2)
    # does, but a square is cheaper than its reload: neither fold stores anything
    ln = lambda v: (v - v.mean(-1, keepdims=True)) / jnp.sqrt(
        ((v - v.mean(-1, keepdims=True)) ** 2).mean(-1, keepdims=True) + 1e-5)
    for f in (ln, lambda v: v * v / jnp.sum(v * v, -1, keepdims=True)):
        (k,) = _kernels(f, xs)
        fold, _ = re.split(r'tj_(?:warp_)?row_for\(', k.source)
        assert not re.search(r'out0\[|\(out0 \+|tj_vec_store', fold)
    # an epilogue that also reads the input, two outputs, one of them the stashed value
    f = lambda v: (v * _softmax(v), jnp.exp(v - jnp.max(v, -1, keepdims=True)))
    got = tinyjax.jit(f)(xs)
    want = _without_stash(f, monkeypatch, xs)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    # float16: the output's storage is not the operand's type, so no stash; still right
    h = x.astype(np.float16)
    got = np.asarray(tinyjax.jit(_softmax)(jnp.asarray(h))).astype(np.float64)
    e = np.exp(h.astype(np.float64) - h.max(1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(1, keepdims=True), rtol=2e-3, atol=1e-4)


@pytest.mark.parametrize('dtype', [np.float32, np.complex64])
def test_eager_column_sums_are_accurate(dtype):
    """NumPy adds rows one after another when the summed axis is not the contiguous last
    one: the eager mean of 10000 float32 rows in [0, 1) was off by 45 ulps (2.7e-6
    relative) while jit and JAX were within a few, so JAX's "Thinking in JAX" page found
    norm(X) and jit(norm)(X) not allclose at atol=1e-6."""
    rng = np.random.default_rng(1701)
    x = rng.random((10000, 10)).astype(np.float32)
    if dtype == np.complex64:
        x = (x + 1j * rng.random((10000, 10))).astype(np.complex64)
    want = x.astype(np.complex128 if dtype == np.complex64 else np.float64).sum(0)
    for got in (jnp.sum(jnp.asarray(x), axis=0), jnp.asarray(x).T.sum(1),
                tinyjax.jit(lambda a: a.sum(0))(x)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=3e-7)

    def norm(a):
        a = a - a.mean(0)
        return a / a.std(0)
    X = jnp.asarray(x.real)
    assert np.allclose(norm(X), tinyjax.jit(norm)(X), atol=1e-6)
