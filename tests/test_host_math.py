"""Accuracy of the transcendental functions jit's kernels call, in float32 ulps.

On the host the kernels compute float tanh inline (kernels/tj_host_shim.h: every float32
input within 2 ulp, bench/ulp_exhaustive.cpp) and call glibc's vector math (libmvec) for
the other functions it has, the scalar libm otherwise; on a GPU, CUDA's. The libraries
document at most 4 ulp for these functions. Each is measured here against the float64
result rounded to float32 (the correctly rounded answer, almost always) and against
NumPy's float32 result, on 2^16 inputs spread over the range that matters. Measured on
glibc 2.36 / AVX2 (ulp vs float64, vs NumPy): exp 3/4, exp2 1/3, expm1 2/3, log 1/1, log2
1/1, log10 2/3, log1p 1/0, sin 2/2, cos 2/2, tan 4/4, tanh 2/3 (inline), sinh 1/0, cosh
2/2, arcsin 2/4, arccos 2/3, arctan 2/2, arcsinh 1/1, arccosh 1/1, arctanh 2/2, erf 2/2,
cbrt 3/4, sigmoid 3/4, power 1/1, arctan2 3/0. NumPy's own float32 functions are up to 3
ulp from the float64 result; the bound asserted is the libraries' documented 4 ulp, and
the inline tanh's proven 2 ulp on a denser sample with the special values.
"""
import numpy as np
import pytest

import tinyjax
import tinyjax.numpy as jnp

MAX_ULP = 4


def ulps(a, b):
    """Distance in float32 units in the last place, elementwise (NaN to NaN is 0)."""
    def ordered(x):
        i = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7fffffff), i)
    d = np.abs(ordered(a) - ordered(b))
    return np.where(np.isnan(a) & np.isnan(b), 0, d)


def _erf64(x):
    from math import erf
    return np.vectorize(erf)(x)


CASES = [
    ('exp', jnp.exp, np.exp, (-87, 88)), ('exp2', jnp.exp2, np.exp2, (-126, 127)),
    ('expm1', jnp.expm1, np.expm1, (-20, 20)), ('log', jnp.log, np.log, (1e-30, 1e30)),
    ('log2', jnp.log2, np.log2, (1e-30, 1e30)), ('log10', jnp.log10, np.log10, (1e-30, 1e30)),
    ('log1p', jnp.log1p, np.log1p, (-0.99, 1e6)), ('sin', jnp.sin, np.sin, (-100, 100)),
    ('cos', jnp.cos, np.cos, (-100, 100)), ('tan', jnp.tan, np.tan, (-10, 10)),
    ('tanh', jnp.tanh, np.tanh, (-10, 10)), ('sinh', jnp.sinh, np.sinh, (-80, 80)),
    ('cosh', jnp.cosh, np.cosh, (-80, 80)), ('arcsin', jnp.arcsin, np.arcsin, (-1, 1)),
    ('arccos', jnp.arccos, np.arccos, (-1, 1)), ('arctan', jnp.arctan, np.arctan, (-100, 100)),
    ('arcsinh', jnp.arcsinh, np.arcsinh, (-1e4, 1e4)),
    ('arccosh', jnp.arccosh, np.arccosh, (1, 1e4)),
    ('arctanh', jnp.arctanh, np.arctanh, (-0.999, 0.999)),
    ('erf', tinyjax.scipy.special.erf, _erf64, (-5, 5)),
    ('cbrt', jnp.cbrt, np.cbrt, (-1e6, 1e6)),
    ('sigmoid', tinyjax.nn.sigmoid, lambda x: 1 / (1 + np.exp(-x)), (-30, 30)),
]


@pytest.mark.parametrize('name,f,ref,bounds', CASES, ids=[c[0] for c in CASES])
def test_unary_within_4_ulp(name, f, ref, bounds):
    x = np.random.default_rng(1).uniform(*bounds, 1 << 16).astype(np.float32)
    got = np.asarray(tinyjax.jit(f)(jnp.asarray(x)))
    want = ref(x.astype(np.float64)).astype(np.float32)
    worst = int(ulps(got, want).max())
    assert worst <= MAX_ULP, f'{name}: {worst} ulp from the float64 result'


@pytest.mark.parametrize('name,f,ref', [('power', jnp.power, np.power),
                                        ('arctan2', jnp.arctan2, np.arctan2)])
def test_binary_within_4_ulp(name, f, ref):
    rng = np.random.default_rng(2)
    x = rng.uniform(0.01, 10, 1 << 16).astype(np.float32)
    y = rng.uniform(-10, 10, 1 << 16).astype(np.float32)
    got = np.asarray(tinyjax.jit(f)(jnp.asarray(x), jnp.asarray(y)))
    want = ref(x.astype(np.float64), y.astype(np.float64)).astype(np.float32)
    assert int(ulps(got, want).max()) <= MAX_ULP


def _dense(lo_bits, hi_bits, n, rng):
    """n float32 spread evenly over the bit patterns [lo_bits, hi_bits], both signs."""
    b = rng.integers(lo_bits, hi_bits + 1, n, dtype=np.int64).astype(np.uint32)
    b[::2] |= np.uint32(0x80000000)
    return b.view(np.float32)


SPECIALS = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-40,
                     1.1754942e-38, -1.1754942e-38, 1.0, -1.0], np.float32)


# The host kernels' own tanh (kernels/tj_host_shim.h): bench/ulp_exhaustive.cpp found every
# float32 input within 2 ulp of the float64 result rounded, CUDA's documented bound for its
# tanhf, which a GPU uses.
@pytest.mark.parametrize('name,f,ref,top,edges', [
    ('tanh', jnp.tanh, np.tanh, 10.5, (0.5, 9.0, 9.02, 10.0))])
def test_inline_functions_within_proven_bound(name, f, ref, top, edges):
    rng = np.random.default_rng(3)
    top_bits = int(np.float32(top).view(np.int32))
    near = [np.float32(e) + np.arange(-2000, 2000, dtype=np.float32) * np.spacing(np.float32(e))
            for e in edges]
    x = np.concatenate([SPECIALS, _dense(0, 0x007fffff, 1 << 14, rng),      # denormals
                        _dense(0, top_bits, 1 << 20, rng), *near, *(-e for e in near),
                        np.linspace(-top, top, 1 << 18, dtype=np.float32)])
    got = np.asarray(tinyjax.jit(f)(jnp.asarray(x)))
    with np.errstate(over='ignore'):
        want = ref(x.astype(np.float64)).astype(np.float32)
    bound = 2
    d = ulps(got, want)
    assert int(d.max()) <= bound, f'{name}({x[d.argmax()]!r}): {got[d.argmax()]!r}, want {want[d.argmax()]!r}'
    assert np.array_equal(np.signbit(got[want == 0]), np.signbit(want[want == 0]))   # -0 stays -0
    assert np.isnan(got[np.isnan(x)]).all()


def test_vector_and_tail_elements_agree_with_one_another():
    # Elements in a loop's vector body and in its scalar tail go through different
    # variants; each stays within the bound, so a value's neighbours do not matter.
    x = np.linspace(-3, 3, 1000 + 7, dtype=np.float32)
    full = np.asarray(tinyjax.jit(jnp.tanh)(jnp.asarray(x)))
    tail = np.asarray(tinyjax.jit(jnp.tanh)(jnp.asarray(x[-7:])))
    assert int(ulps(full[-7:], tail).max()) <= 2 * MAX_ULP
    assert int(ulps(full, np.tanh(x.astype(np.float64)).astype(np.float32)).max()) <= MAX_ULP
