"""Every elementwise primitive and jnp ufunc against NumPy, over shapes and dtypes."""
import math

import ml_dtypes
import numpy as np
import pytest

import tinyjax.numpy as jnp
import tinyjax as jax
from tinyjax import lax

SHAPES = [(), (0,), (5,), (2, 3), (2, 1, 4)]
FLOATS = [np.float32, np.float16, ml_dtypes.bfloat16]

UNARY_FLOAT = {
    'exp': np.exp, 'exp2': np.exp2, 'expm1': np.expm1, 'log': np.log, 'log1p': np.log1p,
    'log2': np.log2, 'log10': np.log10, 'sqrt': np.sqrt, 'cbrt': np.cbrt, 'sin': np.sin,
    'cos': np.cos, 'tan': np.tan, 'arcsin': np.arcsin, 'arccos': np.arccos,
    'arctan': np.arctan, 'sinh': np.sinh, 'cosh': np.cosh, 'tanh': np.tanh,
    'arcsinh': np.arcsinh, 'arccosh': np.arccosh, 'arctanh': np.arctanh,
    'floor': np.floor, 'ceil': np.ceil, 'rint': np.rint, 'trunc': np.trunc,
    'negative': np.negative, 'abs': np.abs, 'sign': np.sign, 'square': np.square,
    'reciprocal': np.reciprocal, 'isfinite': np.isfinite, 'isnan': np.isnan,
    'isinf': np.isinf, 'signbit': np.signbit, 'deg2rad': np.deg2rad, 'rad2deg': np.rad2deg,
}
DOMAIN = {'log': (0.1, 3), 'log1p': (-0.5, 3), 'log2': (0.1, 3), 'log10': (0.1, 3),
          'sqrt': (0, 3), 'arcsin': (-0.9, 0.9), 'arccos': (-0.9, 0.9),
          'arccosh': (1.1, 3), 'arctanh': (-0.9, 0.9), 'reciprocal': (0.5, 2)}


def _rand(shape, dtype, lo=-2, hi=2, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(dtype)


def _tol(dtype):
    return {np.dtype(np.float16): 2e-3, np.dtype(ml_dtypes.bfloat16): 2e-2}.get(np.dtype(dtype), 2e-6)


@pytest.mark.parametrize('name', sorted(UNARY_FLOAT))
@pytest.mark.parametrize('shape', SHAPES)
def test_unary_float32(name, shape):
    lo, hi = DOMAIN.get(name, (-2, 2))
    x = _rand(shape, np.float32, lo, hi)
    got = getattr(jnp, name)(jnp.asarray(x))
    want = UNARY_FLOAT[name](x)
    assert got.shape == want.shape
    assert got.dtype == (np.bool_ if want.dtype == np.bool_ else np.float32)
    np.testing.assert_allclose(np.asarray(got, np.float64), want.astype(np.float64), rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize('name', ['exp', 'tanh', 'sqrt', 'log', 'sin', 'negative', 'abs', 'floor'])
@pytest.mark.parametrize('dtype', FLOATS[1:])
def test_unary_low_precision(name, dtype):
    lo, hi = DOMAIN.get(name, (-2, 2))
    x = _rand((7,), dtype, lo, hi)
    got = getattr(jnp, name)(jnp.asarray(x))
    assert got.dtype == np.dtype(dtype)
    want = UNARY_FLOAT[name](x.astype(np.float32))
    np.testing.assert_allclose(np.asarray(got).astype(np.float32), want, rtol=3e-2, atol=3e-2)


def test_int_input_to_float_function_promotes():
    r = jnp.exp(jnp.arange(3))
    assert r.dtype == jnp.float32
    np.testing.assert_allclose(r, np.exp(np.arange(3)), rtol=1e-6)


def test_erf_and_erf_inv():
    x = np.linspace(-0.99, 0.99, 41).astype(np.float32)
    y = lax.erf(jnp.asarray(x))
    np.testing.assert_allclose(y, [math.erf(v) for v in x.astype(np.float64)], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(lax.erf_inv(y), x, rtol=1e-4, atol=1e-5)
    assert np.isinf(np.asarray(lax.erf_inv(jnp.asarray([1.0, -1.0])))).all()


BINARY = {
    'add': np.add, 'subtract': np.subtract, 'multiply': np.multiply, 'divide': np.divide,
    'maximum': np.maximum, 'minimum': np.minimum, 'power': np.power, 'arctan2': np.arctan2,
    'hypot': np.hypot, 'logaddexp': np.logaddexp, 'remainder': np.remainder,
    'floor_divide': np.floor_divide, 'fmod': np.fmod, 'copysign': np.copysign,
    'equal': np.equal, 'not_equal': np.not_equal, 'less': np.less,
    'less_equal': np.less_equal, 'greater': np.greater, 'greater_equal': np.greater_equal,
    'fmax': np.fmax, 'fmin': np.fmin, 'nextafter': np.nextafter, 'heaviside': np.heaviside,
}


@pytest.mark.parametrize('name', sorted(BINARY))
@pytest.mark.parametrize('shapes', [((), ()), ((3,), ()), ((2, 3), (3,)), ((2, 1), (1, 4)), ((0, 3), (3,))])
def test_binary_float32(name, shapes):
    a = _rand(shapes[0], np.float32, 0.5 if name == 'power' else -2, 2, seed=1)
    b = _rand(shapes[1], np.float32, 0.5, 2, seed=2)
    got = getattr(jnp, name)(jnp.asarray(a), jnp.asarray(b))
    want = BINARY[name](a, b)
    assert got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got, np.float64), want.astype(np.float64), rtol=2e-6, atol=2e-6)


INT_BINARY = {'add': np.add, 'subtract': np.subtract, 'multiply': np.multiply,
              'floor_divide': np.floor_divide, 'remainder': np.remainder, 'maximum': np.maximum,
              'minimum': np.minimum, 'bitwise_and': np.bitwise_and, 'bitwise_or': np.bitwise_or,
              'bitwise_xor': np.bitwise_xor, 'left_shift': np.left_shift,
              'right_shift': np.right_shift, 'power': np.power, 'fmod': np.fmod}


@pytest.mark.parametrize('name', sorted(INT_BINARY))
@pytest.mark.parametrize('dtype', [np.int32, np.uint8, np.int8, np.uint32])
def test_binary_int(name, dtype):
    rng = np.random.default_rng(3)
    lo = 0 if np.dtype(dtype).kind == 'u' else -7
    a = rng.integers(lo, 8, (4, 5)).astype(dtype)
    b = rng.integers(1, 4 if name in ('power', 'left_shift', 'right_shift') else 8, (4, 5)).astype(dtype)
    got = getattr(jnp, name)(jnp.asarray(a), jnp.asarray(b))
    with np.errstate(all='ignore'):
        want = INT_BINARY[name](a, b)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, want)


def test_integer_division_matches_numpy_signs():
    a = jnp.asarray(np.array([7, -7, 7, -7], np.int32))
    b = jnp.asarray(np.array([2, 2, -2, -2], np.int32))
    np.testing.assert_array_equal(a // b, [3, -4, -4, 3])
    np.testing.assert_array_equal(a % b, [1, 1, -1, -1])
    np.testing.assert_array_equal(lax.div(a, b), [3, -3, -3, 3])   # lax rounds toward zero
    np.testing.assert_array_equal(lax.rem(a, b), [1, -1, 1, -1])


def test_sign_keeps_the_sign_of_zero_as_jax():
    # JAX 0.10.2: jnp.sign(-0.0) is -0.0 (NumPy's np.sign gives +0.0), NaN keeps its sign.
    x = np.array([-0.0, 0.0, np.nan, -np.nan, -2, 3, np.inf, -np.inf, -1e-30], np.float32)
    want = np.array([-0.0, 0.0, np.nan, -np.nan, -1, 1, 1, -1, -1], np.float32)
    for dtype in (np.float32, np.float16, np.float64):
        for got in (jnp.sign(jnp.asarray(x.astype(dtype))), jax.jit(jnp.sign)(x.astype(dtype))):
            got = np.asarray(got)
            w = want.astype(dtype)
            if dtype == np.float16:
                w[-1] = -0.0             # -1e-30 rounds to -0 in float16
            np.testing.assert_array_equal(got, w)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(w))
    r = np.array([-0.3, -0.0, 0.3, -2.5, 2.5], np.float32)      # round is sign * floor
    np.testing.assert_array_equal(np.signbit(np.asarray(jax.jit(jnp.round)(r))),
                                  [True, True, False, True, False])


def test_true_divide_of_ints_is_float():
    r = jnp.arange(4) / 2
    assert r.dtype == jnp.float32
    np.testing.assert_allclose(r, np.arange(4) / 2)


def test_logic_and_where_and_clip():
    x = jnp.asarray(np.array([-1.0, 0.0, 2.0, np.nan], np.float32))
    np.testing.assert_array_equal(jnp.logical_and(x > 0, x < 3), [False, False, True, False])
    np.testing.assert_array_equal(jnp.logical_not(x > 0), [True, True, False, True])
    np.testing.assert_allclose(jnp.where(x > 0, x, -x), [1.0, 0.0, 2.0, np.nan])
    np.testing.assert_allclose(jnp.clip(x, -0.5, 1.0), [-0.5, 0.0, 1.0, np.nan])
    np.testing.assert_allclose(jnp.nan_to_num(x), [-1.0, 0.0, 2.0, 0.0])
    assert jnp.where(True, 1, 2.0).dtype == jnp.float32


def test_rounding_is_half_to_even():
    x = jnp.asarray([0.5, 1.5, 2.5, -0.5, -2.5])
    np.testing.assert_array_equal(jnp.round(x), np.round([0.5, 1.5, 2.5, -0.5, -2.5]))
    np.testing.assert_allclose(jnp.round(jnp.asarray([1.234, 5.678]), 1), [1.2, 5.7], rtol=1e-6)
    np.testing.assert_array_equal(lax.round(x), [1.0, 2.0, 3.0, -1.0, -3.0])   # away from zero


def test_float_to_int_conversion_saturates_like_xla():
    x = jnp.asarray([np.nan, 1e20, -1e20, 2.7, -2.7])
    np.testing.assert_array_equal(x.astype(jnp.int32), [0, 2**31 - 1, -2**31, 2, -2])


def test_lax_requires_equal_dtypes():
    with pytest.raises(TypeError, match='same dtypes'):
        lax.add(jnp.ones(3, jnp.float32), jnp.ones(3, jnp.int32))
    with pytest.raises(TypeError, match='exp does not accept dtype int32'):
        lax.exp(jnp.ones(3, jnp.int32))


def test_select_and_clamp():
    p = jnp.asarray([True, False, True])
    np.testing.assert_array_equal(lax.select(p, jnp.ones(3), jnp.zeros(3)), [1, 0, 1])
    np.testing.assert_array_equal(lax.select_n(jnp.asarray([0, 2, 1]), jnp.zeros(3), jnp.ones(3),
                                               jnp.full(3, 2.0)), [0, 2, 1])
    np.testing.assert_array_equal(lax.clamp(0.0, jnp.asarray([-1.0, 0.5, 3.0]), 1.0), [0, 0.5, 1])
