"""tinyjax.random against vectors recorded from JAX 0.10.2 (tests/data/random_vectors.json,
made by tests/data/make_random_vectors.py), plus statistics, vmap, grad, errors and
the threefry CUDA header.

Keys, bits, uniform floats, integers, permutations and choices are bit-exact. Samplers
that go through log/erf/erf_inv match within a few float32 ulps: XLA evaluates those
functions with its own polynomials (and FMA contraction), so no NumPy path can be
bit-identical to its CPU build (nor is JAX's GPU build to its CPU build).
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest

import tinyjax
import tinyjax.numpy as jnp
from tinyjax import random
from tinyjax.nn import initializers

DATA = json.loads((Path(__file__).parent / 'data' / 'random_vectors.json').read_text())
_BITS = {2: np.uint16, 4: np.uint32, 8: np.uint64}
# Samplers whose floats pass through transcendental functions (see the module doc).
_APPROX = ('normal', 'truncated_normal', 'gumbel', 'exponential', 'glorot_normal',
           'xavier_normal', 'he_normal', 'lecun_normal', 'variance_scaling')


def _decode(v):
    if isinstance(v, dict) and 'tuple' in v:
        return tuple(_decode(x) for x in v['tuple'])
    if isinstance(v, dict) and 'array' in v:
        return np.asarray(v['array'], dtype=jnp.dtype(v['dtype']))
    if isinstance(v, dict) and 'dtype' in v:
        return jnp.dtype(v['dtype'])
    return v


def _expected(out):
    dt = jnp.dtype(out['dtype'])
    if dt.kind == 'f' or dt.name == 'bfloat16':
        return np.asarray(out['data'], _BITS[dt.itemsize]).view(dt).reshape(out['shape'])
    return np.asarray(out['data'], dt).reshape(out['shape'])


def _run_case(c):
    key = random.PRNGKey(c['seed'])
    args = [_decode(a) for a in c['args']]
    kwargs = {k: _decode(v) for k, v in c['kwargs'].items()}
    if c['init'] is not None:
        init = getattr(initializers, c['fn'])(**{k: _decode(v) for k, v in c['init'].items()})
        return init(key, *args, **kwargs)
    return getattr(random, c['fn'])(key, *args, **kwargs)


def _check_case(c):
    got, want = np.asarray(_run_case(c)), _expected(c['out'])
    where = f"{c['fn']} seed={c['seed']} args={c['args']} kwargs={c['kwargs']} init={c['init']}"
    assert got.dtype == want.dtype and got.shape == want.shape, where
    approx = c['fn'] in _APPROX or (c['init'] is not None and 'normal' in c['fn'])
    if not approx or want.dtype.itemsize < 4:
        # float16/bfloat16 round the tiny differences away, so those are exact too.
        if want.dtype.kind == 'f' or want.dtype.name == 'bfloat16':
            it = _BITS[want.dtype.itemsize]
            np.testing.assert_array_equal(got.view(it), want.view(it), err_msg=where)
        else:
            np.testing.assert_array_equal(got, want, err_msg=where)
        return
    tol = dict(rtol=2e-6, atol=2e-6) if want.dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(got, want, err_msg=where, **tol)


def _groups(mode):
    names = sorted({c['fn'] if c['init'] is None else 'init.' + c['fn']
                    for c in DATA[mode]['cases']})
    return names


def _cases(mode, name):
    return [c for c in DATA[mode]['cases']
            if (c['fn'] if c['init'] is None else 'init.' + c['fn']) == name]


@pytest.mark.parametrize('name', _groups('x32'))
def test_recorded_vectors(name):
    for c in _cases('x32', name):
        _check_case(c)


@pytest.mark.parametrize('name', _groups('x64'))
def test_recorded_vectors_x64(name, x64):
    for c in _cases('x64', name):
        _check_case(c)


def test_seeds():
    for seed, want in DATA['x32']['seeds'].items():
        assert np.asarray(random.PRNGKey(int(seed))).tolist() == want, seed


def test_seeds_x64(x64):
    for seed, want in DATA['x64']['seeds'].items():
        assert np.asarray(random.PRNGKey(int(seed))).tolist() == want, seed


def test_seed_arrays_match_python_ints():
    for s in (0, 5, -3, 2**31 - 1):
        want = np.asarray(random.PRNGKey(s))
        np.testing.assert_array_equal(random.PRNGKey(np.int32(s)), want)
        np.testing.assert_array_equal(random.PRNGKey(jnp.asarray(s, jnp.int32)), want)
    np.testing.assert_array_equal(random.PRNGKey(np.int8(-5)), [0, 2**32 - 5])
    seeds = jnp.arange(4)
    np.testing.assert_array_equal(tinyjax.vmap(random.PRNGKey)(seeds),
                                  np.stack([random.PRNGKey(i) for i in range(4)]))


def test_threefry_known_answers():
    # Random123's known-answer vectors for Threefry-2x32 with 20 rounds.
    from tinyjax.ops.random_bits import threefry2x32
    u = np.uint32
    for key, ctr, want in [((0, 0), (0, 0), (0x6b200159, 0x99ba4efe)),
                           ((0xffffffff,) * 2, (0xffffffff,) * 2, (0x1cb996fc, 0xbb002be7)),
                           ((0x13198a2e, 0x03707344), (0x243f6a88, 0x85a308d3),
                            (0xc4923a9c, 0x483df7a0))]:
        got = threefry2x32(u(key[0]), u(key[1]), u(ctr[0]), u(ctr[1]))
        assert [int(np.asarray(g)) for g in got] == list(want)


# --- vmap -----------------------------------------------------------------------------
@pytest.mark.parametrize('seed', ['0', '42', str(2**31 + 7)])
def test_vmap_recorded(seed):
    keys = random.split(random.PRNGKey(int(seed)), 8)
    got = tinyjax.vmap(lambda k: random.normal(k, (3,)))(keys)
    np.testing.assert_allclose(got, _expected(DATA['x32']['vmap'][seed]), rtol=2e-6, atol=2e-6)
    got = tinyjax.vmap(lambda k: tinyjax.vmap(
        lambda d: random.uniform(random.fold_in(k, d), (2,)))(jnp.arange(3)))(keys)
    want = _expected(DATA['x32']['vmap'][seed + '_fold'])
    np.testing.assert_array_equal(np.asarray(got).view(np.uint32), want.view(np.uint32))


_PER_KEY = {
    'normal': lambda k: random.normal(k, (3,)),
    'uniform': lambda k: random.uniform(k, (2, 2), minval=-1., maxval=3.),
    'bits': lambda k: random.bits(k, (5,)),
    'split': lambda k: random.split(k, 3),
    'fold_in': lambda k: random.fold_in(k, 7),
    'randint': lambda k: random.randint(k, (4,), -3, 10),
    'permutation': lambda k: random.permutation(k, 6),
    'permutation_2d': lambda k: random.permutation(k, jnp.arange(12).reshape(4, 3), 0),
    'choice': lambda k: random.choice(k, 5, (3,), replace=False),
    'choice_p': lambda k: random.choice(k, 5, (3,), p=jnp.array([.1, .2, .3, .2, .2])),
    'categorical': lambda k: random.categorical(k, jnp.array([[0., 1., 2.], [2., 1., 0.]])),
    'bernoulli': lambda k: random.bernoulli(k, 0.3, (5,)),
    'truncated_normal': lambda k: random.truncated_normal(k, -1., 1., (3,)),
    'gumbel': lambda k: random.gumbel(k, (2,)),
    'exponential': lambda k: random.exponential(k, (2,)),
}


@pytest.mark.parametrize('name', sorted(_PER_KEY))
def test_vmap_equals_stacking(name):
    fn = _PER_KEY[name]
    keys = random.split(random.PRNGKey(3), 5)
    np.testing.assert_array_equal(tinyjax.vmap(fn)(keys), np.stack([fn(k) for k in keys]))


def test_vmap_over_key_axis_one_and_typed_keys():
    keys = random.split(random.PRNGKey(1), 4)
    f = _PER_KEY['normal']
    np.testing.assert_array_equal(tinyjax.vmap(f, in_axes=1)(keys.T), tinyjax.vmap(f)(keys))
    typed = random.split(random.key(1), 4)
    assert typed.shape == (4,) and str(typed.dtype) == 'key<fry>'
    np.testing.assert_array_equal(tinyjax.vmap(f)(typed), tinyjax.vmap(f)(keys))
    out = tinyjax.vmap(random.split)(typed)
    assert isinstance(out, random.PRNGKeyArray) and out.shape == (4, 2)
    np.testing.assert_array_equal(random.key_data(out), tinyjax.vmap(random.split)(keys))


# --- typed keys -------------------------------------------------------------------------
def test_typed_keys_roundtrip():
    k = random.key(42)
    assert k.shape == () and k.ndim == 0
    np.testing.assert_array_equal(random.key_data(k), random.PRNGKey(42))
    again = random.wrap_key_data(random.key_data(k))
    assert bool(again == k)
    ks = random.split(k, (2, 3))
    assert ks.shape == (2, 3)
    np.testing.assert_array_equal(random.key_data(ks), random.split(random.PRNGKey(42), (2, 3)))
    np.testing.assert_array_equal(random.key_data(ks[1, 2]), random.split(random.PRNGKey(42), 6)[5])
    np.testing.assert_array_equal(random.uniform(random.fold_in(k, 3), (4,)),
                                  random.uniform(random.fold_in(random.PRNGKey(42), 3), (4,)))
    assert random.key_impl(k) == 'threefry2x32'
    np.testing.assert_array_equal(random.key_data(random.PRNGKey(1)), random.PRNGKey(1))


# --- statistics ---------------------------------------------------------------------------
N = 100_000


def _ks(samples, cdf):
    """Kolmogorov-Smirnov statistic of samples against a vectorised CDF."""
    x = np.sort(np.asarray(samples, np.float64))
    f = cdf(x)
    n = len(x)
    return max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n))


_KS_LIMIT = 1.95 / math.sqrt(N)    # p ~ 0.001
_erf = np.vectorize(math.erf)


def test_uniform_statistics():
    u = np.asarray(random.uniform(random.PRNGKey(0), (N,)))
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    assert _ks(u, lambda x: x) < _KS_LIMIT
    v = np.asarray(random.uniform(random.PRNGKey(1), (N,), minval=-2., maxval=6.))
    assert v.min() >= -2 and v.max() < 6 and abs(v.mean() - 2) < 0.05


def test_normal_statistics():
    z = np.asarray(random.normal(random.PRNGKey(0), (N,)))
    assert abs(z.mean()) < 0.015 and abs(z.var() - 1) < 0.02
    assert _ks(z, lambda x: 0.5 * (1 + _erf(x / math.sqrt(2)))) < _KS_LIMIT


def test_truncated_normal_statistics():
    t = np.asarray(random.truncated_normal(random.PRNGKey(2), -1., 2., (N,)))
    assert t.min() > -1 and t.max() < 2
    phi = lambda x: 0.5 * (1 + _erf(x / math.sqrt(2)))  # noqa: E731
    a, b = phi(-1.), phi(2.)
    assert _ks(t, lambda x: (phi(x) - a) / (b - a)) < _KS_LIMIT


def test_exponential_and_gumbel_statistics():
    e = np.asarray(random.exponential(random.PRNGKey(3), (N,)))
    assert e.min() >= 0 and _ks(e, lambda x: 1 - np.exp(-x)) < _KS_LIMIT
    g = np.asarray(random.gumbel(random.PRNGKey(4), (N,)))
    assert abs(g.mean() - 0.5772156649) < 0.02
    assert _ks(g, lambda x: np.exp(-np.exp(-x))) < _KS_LIMIT


def test_discrete_statistics():
    b = np.asarray(random.bernoulli(random.PRNGKey(5), 0.3, (N,)))
    assert b.dtype == np.bool_ and abs(b.mean() - 0.3) < 0.01
    r = np.asarray(random.randint(random.PRNGKey(6), (N,), 3, 13))
    assert r.dtype == np.int32 and r.min() == 3 and r.max() == 12
    assert np.abs(np.bincount(r - 3) / N - 0.1).max() < 0.01
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4], np.float32))
    c = np.asarray(random.categorical(random.PRNGKey(7), logits, shape=(N,)))
    assert np.abs(np.bincount(c, minlength=4) / N - [0.1, 0.2, 0.3, 0.4]).max() < 0.01
    p = np.asarray(random.permutation(random.PRNGKey(8), 5000))
    assert sorted(p.tolist()) == list(range(5000))
    ch = np.asarray(random.choice(random.PRNGKey(9), 50, (50,), replace=False))
    assert sorted(ch.tolist()) == list(range(50))
    bits = np.asarray(random.bits(random.PRNGKey(10), (N,)))
    ones = np.unpackbits(bits.view(np.uint8)).mean()
    assert abs(ones - 0.5) < 0.002


# --- derivatives -------------------------------------------------------------------------
def test_grad_through_minval_maxval():
    key = random.PRNGKey(0)
    u = np.asarray(random.uniform(key, (3,)))
    ga, gb = tinyjax.grad(lambda a, b: random.uniform(key, (3,), minval=a, maxval=b).sum(),
                          argnums=(0, 1))(0.5, 2.0)
    np.testing.assert_allclose([float(ga), float(gb)], [np.sum(1 - u), np.sum(u)], rtol=1e-6)
    g = tinyjax.grad(lambda s: (s * random.normal(key, (4,))).sum())(2.0)
    np.testing.assert_allclose(g, np.asarray(random.normal(key, (4,))).sum(), rtol=1e-6)


def test_grad_with_respect_to_key_raises():
    with pytest.raises(TypeError, match='grad requires real- or complex-valued inputs'):
        tinyjax.grad(lambda k: random.uniform(k))(random.PRNGKey(0))


# --- errors -------------------------------------------------------------------------------
_K = random.PRNGKey(0)
_ERRORS = [
    (lambda: random.uniform(jnp.zeros(2, jnp.float32)), TypeError, 'dtype = uint32'),
    (lambda: random.uniform(jnp.zeros(3, jnp.uint32)), TypeError, r'end with \(2,\)'),
    (lambda: random.uniform(jnp.zeros(2, jnp.int32)), TypeError, 'dtype = uint32'),
    (lambda: random.uniform(1.0), TypeError, 'invalid PRNG key data'),
    (lambda: random.uniform([0, 0]), TypeError, 'unexpected PRNG key type'),
    (lambda: random.normal(random.split(_K)), ValueError, 'accepts a single key'),
    (lambda: random.split(random.split(_K)), ValueError, 'split accepts a single key'),
    (lambda: random.choice(_K, 3, (4,), replace=False), ValueError,
     'Cannot take a larger sample'),
    (lambda: random.choice(_K, 3, 2), TypeError, 'must be a sequence'),
    (lambda: random.choice(_K, jnp.arange(3), (2,), p=jnp.ones(4) / 4), ValueError,
     'p must be None or a 1D vector'),
    (lambda: random.uniform(_K, (3,), minval=jnp.zeros((2, 3))), TypeError, 'broadcast'),
    (lambda: random.uniform(_K, 3), TypeError, 'Shapes must be 1D sequences'),
    (lambda: random.uniform(_K, (3,), jnp.int32), ValueError, 'must be a float dtype'),
    (lambda: random.normal(_K, (3,), jnp.int32), ValueError, 'float or complex dtype'),
    (lambda: random.randint(_K, (3,), 0, 5, jnp.float32), TypeError, 'integer dtypes'),
    (lambda: random.randint(_K, (3,), jnp.zeros(4, jnp.int32), 5), ValueError,
     'Incompatible shapes'),
    (lambda: random.bernoulli(_K, 1, (3,)), TypeError, 'floating dtype'),
    (lambda: random.bernoulli(_K, jnp.ones(2) * 0.5, (3,)), ValueError, 'Incompatible'),
    (lambda: random.bernoulli(_K, 0.5, (3,), mode='mid'), ValueError, 'expected'),
    (lambda: random.bits(_K, (3,), jnp.int32), ValueError, 'unsigned int dtype'),
    (lambda: random.fold_in(_K, jnp.arange(2)), TypeError, 'accepts a scalar'),
    (lambda: random.fold_in(_K, -1), OverflowError, 'out of bounds for uint32'),
    (lambda: random.PRNGKey(jnp.zeros(2, jnp.int32)), TypeError, 'scalar seed'),
    (lambda: random.PRNGKey(1.5), TypeError, 'must be an integer'),
    (lambda: random.permutation(_K, 2.0), TypeError, 'integer or at least 1-dimensional'),
    (lambda: random.categorical(_K, jnp.zeros((3, 4)), shape=(5,)), ValueError,
     'Incompatible shapes'),
    (lambda: random.categorical(_K, jnp.zeros(3), shape=(4,), replace=False), ValueError,
     'cannot exceed number of categories'),
    (lambda: random.split(_K, -1), ValueError, 'non-negative'),
    (lambda: random.gumbel(_K, (2,), mode='mid'), ValueError, 'valid mode'),
    (lambda: random.wrap_key_data(jnp.zeros(3, jnp.uint32)), TypeError, r'end with \(2,\)'),
    (lambda: initializers.glorot_normal()(_K, (5,)), ValueError, "Can't compute input"),
    (lambda: initializers.variance_scaling(1., 'fan_x', 'normal'), ValueError, 'invalid mode'),
]


@pytest.mark.parametrize('i', range(len(_ERRORS)))
def test_errors(i):
    fn, exc, match = _ERRORS[i]
    with pytest.raises(exc, match=match):
        fn()


def test_edge_cases():
    assert random.uniform(_K, (0, 3)).shape == (0, 3)
    assert random.choice(_K, 5, (0,)).shape == (0,)
    assert random.split(_K, 0).shape == (0, 2)
    np.testing.assert_array_equal(random.randint(_K, (4,), 5, 5), [5] * 4)
    z = initializers.zeros(_K, (2, 3))
    assert z.dtype == np.float32 and not np.asarray(z).any()
    assert np.asarray(initializers.ones(_K, (2,), jnp.float16)).tolist() == [1, 1]
    c = random.normal(_K, (3,), jnp.complex64)
    assert c.dtype == np.complex64 and c.shape == (3,)


# --- the CUDA side --------------------------------------------------------------------------
_HOST_SRC = r'''
#include "tj_random.cuh"
extern "C" void run(const unsigned int* k1, const unsigned int* k2, const unsigned int* x1,
                    const unsigned int* x2, unsigned int* y, float* f, long n) {
    for (long i = 0; i < n; ++i) {
        tj_threefry2x32(k1[i], k2[i], x1[i], x2[i], &y[4 * i], &y[4 * i + 1]);
        y[4 * i + 2] = tj_threefry2x32_y1(k1[i], k2[i], x1[i], x2[i]);
        y[4 * i + 3] = tj_threefry2x32_y2(k1[i], k2[i], x1[i], x2[i]);
        f[i] = tj_bitcast_to_float32((y[4 * i] >> 9) | 0x3f800000u) - 1.0f;
    }
}
'''


def test_cuda_header_runs_on_host():
    import ctypes
    from tinyjax.compiler import hostcc
    if hostcc.compiler() is None:
        pytest.skip('no C++ compiler')
    lib = hostcc.build(_HOST_SRC, 'tj_random_test')
    rng = np.random.default_rng(0)
    n = 1000
    ins = [rng.integers(0, 2**32, n, dtype=np.uint32) for _ in range(4)]
    y = np.zeros((n, 4), np.uint32)
    f = np.zeros(n, np.float32)
    ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
    lib.run(*[ptr(a) for a in ins], ptr(y), ptr(f), ctypes.c_long(n))
    from tinyjax.ops.random_bits import threefry2x32_numpy
    a, b = threefry2x32_numpy(np, *ins)
    for col, want in enumerate((a, b, a, b)):
        np.testing.assert_array_equal(y[:, col], want)
    np.testing.assert_array_equal(f, ((a >> 9) | 0x3f800000).view(np.float32) - 1)


def test_cuda_header_compiles_with_nvrtc():
    from tinyjax.compiler import nvrtc
    if not nvrtc.available():
        pytest.skip('NVRTC not available')
    src = '#include "tj_random.cuh"\n' + r'''
extern "C" __global__ void k(const unsigned int* x, unsigned int* y, float* f, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        unsigned int a, b;
        tj_threefry2x32(1u, 2u, 0u, x[i], &a, &b);
        y[i] = a ^ tj_threefry2x32_y2(1u, 2u, 0u, x[i]);
        f[i] = tj_bitcast_to_float32((b >> 9) | 0x3f800000u)
               + tj_bitcast_to_float16((unsigned short)a);
    }
}
'''
    assert len(nvrtc.compile_cubin(src, 'sm_90', 'tj_random_test')) > 0


@pytest.mark.gpu
def test_threefry_cupy_matches_numpy():
    import cupy
    from tinyjax.ops.random_bits import threefry2x32_numpy
    rng = np.random.default_rng(1)
    ins = [rng.integers(0, 2**32, 4096, dtype=np.uint32) for _ in range(4)]
    want = threefry2x32_numpy(np, *ins)
    got = threefry2x32_numpy(cupy, *[cupy.asarray(a) for a in ins])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(cupy.asnumpy(g), w)


@pytest.mark.parametrize('name', sorted(_PER_KEY))
def test_jit_matches_eager(name):
    if not hasattr(tinyjax, 'jit'):
        pytest.skip('tinyjax.jit not present yet')
    fn, k = _PER_KEY[name], random.PRNGKey(7)
    got, want = np.asarray(tinyjax.jit(fn)(k)), np.asarray(fn(k))
    if want.dtype.kind == 'f':
        # Fused kernels evaluate log/exp with the C library, NumPy with its own.
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
    else:
        np.testing.assert_array_equal(got, want)
    keys = random.split(k, 3)
    np.testing.assert_allclose(tinyjax.jit(tinyjax.vmap(fn))(keys), tinyjax.vmap(fn)(keys),
                               rtol=2e-6, atol=2e-6)


# gumbel(mode='highest') in float32, JAX 0.10.2, key(42), shape (16,): the 64-bit uniform
# 1 - u as float32 bits (exact), and the samples' float32 bits (within a few ulps: the
# logs differ between XLA and NumPy, as for every sampler built on log).
GUMBEL_HIGHEST_UNIFORM_BITS = [1056585767, 1050931614, 1053063180, 1054917244, 1055308518, 1054083426, 1033450940, 1046889325, 1050288642, 1043970065, 1051941684, 1040333686, 1033358205, 1041185255, 1056211451, 1043980257]
GUMBEL_HIGHEST_BITS = [1053584261, 3188004962, 1026589821, 1044847659, 1057173942, 1040258261, 1076066241, 3201102334, 3191546328, 3205033383, 1062686668, 3208202161, 3212103944, 3207409993, 1054681631, 3205025155]


def test_gumbel_highest_float32_matches_jax():
    from tinyjax.random import samplers
    from tinyjax.random.keys import check_key
    data, _ = check_key('gumbel', random.key(42))
    words = np.asarray(samplers.random_bits(data, 32, (2, 16))).astype(np.uint32)
    small = words[0] < (1 << 31)
    neg_lo = ~words[1] + np.uint32(1)
    neg_hi = ~words[0] + (words[1] == 0).astype(np.uint32)
    hi, lo = np.where(small, words[0], neg_hi), np.where(small, words[1], neg_lo)
    x = np.asarray(samplers._fraction_to_float32(jnp.asarray(hi), jnp.asarray(lo)))
    np.testing.assert_array_equal(x.view(np.uint32), GUMBEL_HIGHEST_UNIFORM_BITS)
    want = np.array(GUMBEL_HIGHEST_BITS, np.uint32).view(np.float32)
    for f in (random.gumbel, tinyjax.jit(random.gumbel, static_argnums=(1, 2, 3))):
        got = np.asarray(f(random.key(42), (16,), jnp.float32, 'highest'))
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
    # 2**-64 resolution: the zero fraction is 2**-65, the largest sample about 45.
    tiny = samplers._fraction_to_float32(jnp.zeros(1, jnp.uint32), jnp.zeros(1, jnp.uint32))
    assert float(tiny[0]) == 2.0 ** -65
