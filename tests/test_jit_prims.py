"""jit (generated kernels, built for the host) equals eager NumPy on every primitive."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import dtypes, lax
from tinyjax.ops import elementwise as ew

RNG = np.random.default_rng(0)
FLOATS = [np.float32, np.float16, dtypes.bfloat16]
INTS = [np.int32, np.int8, np.uint8, np.int16, np.uint32]
DOMAIN = {'log': (0.1, 4), 'sqrt': (0, 4), 'rsqrt': (0.1, 4), 'log1p': (-0.9, 4),
          'asin': (-0.99, 0.99), 'acos': (-0.99, 0.99), 'atanh': (-0.9, 0.9),
          'erf_inv': (-0.99, 0.99), 'acosh': (1.1, 4), 'tan': (-1.2, 1.2), 'pow': (0.1, 3)}
TOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float16): 2e-3, dtypes.bfloat16: 1.6e-2,
       np.dtype(np.float64): 1e-12}


def _rand(dtype, shape=(3, 5), lo=-3, hi=3):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return RNG.random(shape) > 0.5
    if dtypes.is_int(dtype):
        info = np.iinfo(dtype)
        return RNG.integers(max(info.min, -20), min(info.max, 20), shape).astype(dtype)
    v = RNG.uniform(lo, hi, shape)
    if lo < 0 < hi:
        v.flat[0], v.flat[1] = 0.0, 0.5       # exercise zero and a rounding tie
    return v.astype(dtype)


def assert_same(got, want, what=''):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (what, got.dtype, want.dtype)
    if dtypes.is_float(got.dtype):
        tol = TOL.get(got.dtype, 1e-6)
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=tol,
                                   atol=tol, err_msg=what, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def check_jit(f, *args):
    got, want = jax.jit(f)(*args), f(*args)
    for g, w in zip(jax.tree_leaves(got), jax.tree_leaves(want)):
        assert_same(g, w, getattr(f, '__name__', ''))


UNARY = [r[0] for r in ew._UNARY]


@pytest.mark.parametrize('name', UNARY)
def test_unary(name):
    p = ew.PRIMS[name]
    params = {'round': {'rounding_method': 1}, 'integer_pow': {'y': 3}}.get(name, {})
    kinds = {ew.FLOAT: FLOATS, ew.NUM: FLOATS + INTS, ew.INT: INTS + [np.bool_],
             ew.INTEGER: INTS}.get(p.kind, FLOATS + INTS + [np.bool_])
    lo, hi = DOMAIN.get(name, (-3, 3))
    xs = [jnp.asarray(_rand(d, lo=lo, hi=hi)) for d in kinds]
    if name == 'integer_pow':
        check_jit(lambda *xs: [lax.integer_pow(x, -2) for x in xs if dtypes.is_float(x.dtype)], *xs)
    check_jit(lambda *xs: [p.bind(x, **params) for x in xs], *xs)
    if name == 'round':
        check_jit(lambda *xs: [p.bind(x, rounding_method=0) for x in xs], *xs)


BINARY = [r[0] for r in ew._BINARY] + [r[0] for r in ew._COMPARE]


@pytest.mark.parametrize('name', BINARY)
def test_binary(name):
    p = ew.PRIMS[name]
    if name in ('and', 'or', 'xor', 'shift_left', 'shift_right_arithmetic', 'shift_right_logical'):
        kinds = INTS + ([np.bool_] if name in ('and', 'or', 'xor') else [])
    elif name in ('pow', 'atan2', 'nextafter'):
        kinds = FLOATS[:1] if name == 'nextafter' else FLOATS
    else:
        kinds = FLOATS + INTS
    lo, hi = DOMAIN.get(name, (-3, 3))
    xs = [jnp.asarray(_rand(d, lo=lo, hi=hi)) for d in kinds]
    ys = [jnp.asarray(_rand(d, lo=lo, hi=hi)) for d in kinds]
    if name.startswith('shift'):
        ys = [jnp.asarray(RNG.integers(-2, 40, (3, 5)).astype(d)) for d in kinds]
    if name in ('div', 'rem'):
        ys = [jnp.asarray(np.where(np.asarray(y) == 0, 3, np.asarray(y)).astype(y.dtype))
              if dtypes.is_float(y.dtype) else y for y in ys]   # integer x/0 is defined; float is inf
    n = len(xs)
    check_jit(lambda *a: [p.bind(a[i], a[n + i]) for i in range(n)], *xs, *ys)
    # with a 0-d operand (a literal inside the trace)
    check_jit(lambda *a: [p.bind(x, jnp.asarray(np.asarray(2, x.dtype))) for x in a], *xs)


def test_select_clamp_convert_iota():
    x, y = jnp.asarray(_rand(np.float32)), jnp.asarray(_rand(np.float32))
    w = jnp.asarray(RNG.integers(0, 3, (3, 5)).astype(np.int32))
    check_jit(lambda x, y: lax.select_n(x > y, x, y), x, y)
    check_jit(lambda w, x, y: lax.select_n(w, x, y, x * 2), w, x, y)
    check_jit(lambda x: lax.clamp(np.float32(-1), x, np.float32(1.5)), x)
    check_jit(lambda x: lax.broadcasted_iota(np.int32, (3, 5), 1) * 2 + x.astype(jnp.int32), x)
    srcs = [np.float32, np.float16, dtypes.bfloat16, np.int32, np.uint8, np.int8, np.bool_]
    for s in srcs:
        v = jnp.asarray(_rand(s, lo=-300, hi=300))
        check_jit(lambda v: [lax.convert_element_type(v, d) for d in srcs], v)


def test_float_to_int_saturates_and_nan_is_zero():
    v = jnp.asarray(np.array([np.nan, 1e10, -1e10, 2.7, -2.7, 300, -1], np.float32))
    got = jax.jit(lambda v: (v.astype(jnp.int32), v.astype(jnp.uint8), v.astype(jnp.int8)))(v)
    np.testing.assert_array_equal(got[0], [0, 2**31 - 1, -2**31, 2, -2, 300, -1])
    np.testing.assert_array_equal(got[1], [0, 255, 0, 2, 0, 255, 0])
    np.testing.assert_array_equal(got[2], [0, 127, -128, 2, -2, 127, -1])


def test_half_conversions_round_to_nearest_even():
    bits = np.arange(0, 2 ** 16, dtype=np.uint16)
    for dt in (np.float16, dtypes.bfloat16):
        vals = bits.view(dt)
        x = jnp.asarray(vals)
        back = np.asarray(jax.jit(lambda x: (x.astype(jnp.float32) * 1.0).astype(x.dtype))(x))
        same = (back.view(np.uint16) == bits) | np.isnan(vals.astype(np.float32))
        assert same.all()
    f = RNG.standard_normal(4096).astype(np.float32) * np.float32(3e4)
    for dt in (np.float16, dtypes.bfloat16):
        got = np.asarray(jax.jit(lambda v: v.astype(dt))(jnp.asarray(f)))
        with np.errstate(over='ignore'):
            want = f.astype(dt)
        np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))


def test_structural_ops():
    x = jnp.asarray(_rand(np.float32, (2, 3, 4)))
    check_jit(lambda x: lax.broadcast_in_dim(x[0], (5, 3, 4), (1, 2)), x)
    check_jit(lambda x: x.reshape(4, 6) * 2, x)
    check_jit(lambda x: x.reshape(6, 4).T + 1, x)
    check_jit(lambda x: jnp.transpose(x, (2, 0, 1)) * 3, x)
    check_jit(lambda x: lax.rev(x, (0, 2)) - 1, x)
    check_jit(lambda x: lax.slice(x, (0, 1, 0), (2, 3, 4), (1, 1, 2)) * 2, x)
    check_jit(lambda x: lax.pad(x, np.float32(-1), ((1, 0, 1), (0, 2, 0), (-1, 1, 2))), x)
    check_jit(lambda x: lax.concatenate([x, x * 2, x[:, :1]], 1) + 1, x)
    check_jit(lambda x: lax.squeeze(x[:, :1], (1,)) * 2, x)
    check_jit(lambda x: jnp.expand_dims(x, 0) + x, x)


@pytest.mark.parametrize('dtype', [np.float32, np.float16, dtypes.bfloat16, np.int32, np.int8, np.uint8, np.bool_])
def test_reductions(dtype):
    x = jnp.asarray(_rand(dtype, (3, 4, 5)))
    ops = [lax.reduce_max, lax.reduce_min]
    if dtype != np.bool_:
        ops += [lax.reduce_sum, lax.reduce_prod]
    if dtype in (np.int32, np.int8, np.uint8, np.bool_):
        ops += [lax.reduce_and, lax.reduce_or]
    if dtype == np.bool_:
        ops += [lax.reduce_sum]

    def f(x):
        return [op(x, axes) for op in ops for axes in [(0,), (2,), (1, 2), (0, 2), (0, 1, 2)]]
    check_jit(f, x)


def test_reduction_edge_shapes():
    check_jit(lambda x: (jnp.sum(x, 0), jnp.max(x, 1, initial=-np.inf)), jnp.zeros((0, 3)))
    check_jit(lambda x: jnp.sum(x, 1), jnp.ones((5, 0)))
    check_jit(lambda x: jnp.sum(x), jnp.asarray(np.float32(3)))
    check_jit(lambda x: jnp.max(x, 0), jnp.asarray(np.array([np.nan, 1.0, 2.0], np.float32)))


def test_dot_general_and_mixed_programs():
    a, b = jnp.asarray(_rand(np.float32, (4, 6))), jnp.asarray(_rand(np.float32, (6, 3)))
    check_jit(lambda a, b: jnp.tanh(a @ b + 1.0), a, b)
    check_jit(lambda a, b: jnp.einsum('ij,jk->ik', a, b).sum(0), a, b)
    bat = jnp.asarray(_rand(np.float32, (2, 4, 6)))
    check_jit(lambda x, b: jnp.matmul(x, b) * 2, bat, b)


def test_float64_under_x64(x64):
    x = jnp.asarray(RNG.standard_normal((4, 5)))
    assert x.dtype == np.float64
    check_jit(lambda x: (jnp.exp(x) * 2, jnp.sum(x * x, 1), x.astype(jnp.int64) + 3,
                         jnp.arange(5, dtype=jnp.int64) * 7), x)
