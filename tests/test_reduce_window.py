"""lax.reduce_window and the reduce_window_sum / _max / _min primitives: values against a
NumPy loop and against JAX-recorded numbers, derivatives (finite differences, and JAX's
tie-breaking for max pooling), vmap, jit and errors."""
import itertools

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.test_util import check_grads

_NP = {'add': (np.add, 0.0), 'max': (np.maximum, -np.inf), 'min': (np.minimum, np.inf),
       'mul': (np.multiply, 1.0)}
_LAX = {'add': lax.add, 'max': lax.max, 'min': lax.min, 'mul': lax.mul}


def ref_reduce_window(x, op, window, strides, padding, base_dil, win_dil):
    """NumPy loop: dilate and pad with the identity, then fold each window."""
    fn, ident = _NP[op]
    shape = [(n - 1) * d + 1 for n, d in zip(x.shape, base_dil)]
    xd = np.full(shape, ident)
    xd[tuple(slice(None, None, d) for d in base_dil)] = x
    xd = np.pad(xd, padding, constant_values=ident)
    span = [(k - 1) * d + 1 for k, d in zip(window, win_dil)]
    out_shape = [max((n - s) // st + 1, 0) for n, s, st in zip(xd.shape, span, strides)]
    out = np.full(out_shape, ident)
    for pos in itertools.product(*[range(n) for n in out_shape]):
        for k in itertools.product(*[range(w) for w in window]):
            idx = tuple(p * s + q * d for p, s, q, d in zip(pos, strides, k, win_dil))
            out[pos] = fn(out[pos], xd[idx])
    return out


CASES = [
    # shape, window, strides, padding, base dilation, window dilation
    ((2, 3, 6, 5), (1, 1, 2, 2), (1, 1, 2, 2), 'VALID', None, None),
    ((2, 3, 6, 5), (1, 1, 3, 3), (1, 1, 2, 1), 'SAME', None, None),
    ((4, 7), (2, 3), (1, 2), ((1, 0), (2, 1)), (2, 1), (1, 2)),
    ((9,), (3,), (2,), ((0, 0),), None, (3,)),
    ((2, 5, 4, 3, 1), (1, 2, 2, 2, 1), (1, 1, 2, 1, 1), 'SAME', None, None),
]


def _pads(shape, window, strides, padding, win_dil):
    if isinstance(padding, str):
        win_dil = win_dil or (1,) * len(shape)
        return lax.padtype_to_pads(shape, [(k - 1) * d + 1 for k, d in zip(window, win_dil)],
                                   strides, padding)
    return padding


@pytest.mark.parametrize('op', ['add', 'max', 'min', 'mul'])
@pytest.mark.parametrize('case', CASES)
def test_against_numpy(op, case):
    shape, window, strides, padding, bd, wd = case
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    init = _NP[op][1]
    f = lambda x: lax.reduce_window(x, init, _LAX[op], window, strides, padding, bd, wd)  # noqa
    ref = ref_reduce_window(x.astype(np.float64), op, window, strides,
                            _pads(shape, window, strides, padding, wd), bd or (1,) * len(shape),
                            wd or (1,) * len(shape))
    for fn in (f, jax.jit(f)):
        out = fn(x)
        assert out.shape == ref.shape and out.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('op', ['add', 'max', 'min'])
def test_jaxpr_names_the_primitive(op):
    init = _NP[op][1]
    text = str(jax.make_jaxpr(lambda x: lax.reduce_window(
        x, init, _LAX[op], (1, 2), (1, 2), 'SAME'))(jnp.ones((3, 4))))
    name = {'add': 'sum', 'max': 'max', 'min': 'min'}[op]
    assert f'b:f32[3,2] = reduce_window_{name}[' in text
    for part in ('base_dilation=(1, 1)', 'padding=((0, 0), (0, 0))', 'window_dilation=(1, 1)',
                 'window_dimensions=(1, 2)', 'window_strides=(1, 2)'):
        assert part in text


GRAD_CASES = [
    ((2, 5, 4), (1, 2, 2), (1, 2, 1), 'SAME', None, None),
    ((5, 4), (3, 2), (2, 2), ((1, 0), (2, 1)), (2, 1), (1, 2)),
    ((7,), (2,), (3,), ((0, 1),), (1,), (3,)),
]


@pytest.mark.parametrize('op', ['add', 'max', 'min', 'mul'])
@pytest.mark.parametrize('case', GRAD_CASES)
def test_grads_order_2(op, case, x64):
    shape, window, strides, padding, bd, wd = case
    # Distinct values, so no window has a tie (where max is not differentiable).
    x = np.random.default_rng(1).permutation(np.prod(shape)).reshape(shape) * 0.1 + 0.3
    init = _NP[op][1]
    check_grads(lambda x: lax.reduce_window(x, init, _LAX[op], window, strides, padding, bd, wd),
                (x,), order=2, modes=('fwd', 'rev'), eps=1e-3)


# Recorded with JAX 0.10.2 (CPU, x64): x = sin(0.7 * arange(2*3*5*6)).reshape(2, 3, 5, 6);
# each entry: (first six values rounded to 6 places, sum of all values).
def _x():
    return np.sin(np.arange(2 * 3 * 5 * 6).reshape(2, 3, 5, 6) * 0.7)


def _weighted_grad(f, x):
    def loss(x):
        y = f(x)
        return (y * np.cos(np.arange(y.size).reshape(y.shape))).sum()
    return jax.grad(loss)(x)


JAX_RECORDED = {
    'sum': (lambda x: lax.reduce_window(x, 0., lax.add, (1, 1, 2, 3), (1, 1, 2, 1), 'SAME'),
            (2, 3, 3, 6), [-1.209811, -0.855628, 0.895971, 2.226181, 2.509383, 1.62936],
            -0.27730171105322476),
    'max': (lambda x: lax.reduce_window(x, -np.inf, lax.max, (1, 1, 3, 2), (1, 1, 1, 2),
                                        [(0, 0), (0, 0), (1, 1), (0, 1)], (1, 1, 2, 1),
                                        (1, 1, 1, 2)),
            (2, 3, 9, 3), [0.98545, 0.98545, 0.334988, 0.98545, 0.98545, 0.656987],
            82.78169758996043),
    'min': (lambda x: lax.reduce_window(x, np.inf, lax.min, (1, 2, 2, 2), (1, 1, 2, 2), 'VALID'),
            (2, 2, 2, 3), [-0.982453, -0.895187, -0.971798, -0.967696, -0.909667, -0.979178],
            -22.789856910895423),
    'prod': (lambda x: lax.reduce_window(x, 1., lax.mul, (1, 1, 2, 2), (1, 1, 1, 1), 'VALID'),
             (2, 3, 4, 5), [0., 0.393724, -0.009029, 0.003194, -0.076288, 0.233509],
             9.681368770597867),
    'sum_init_1': (lambda x: lax.reduce_window(x, 1., lax.add, (1, 1, 2, 2), (1, 1, 1, 1),
                                               [(0, 0), (0, 0), (1, 1), (0, 0)]),
                   (2, 3, 6, 5), [1.644218, 2.629667, 2.848659, 2.198198, 0.984205, -0.209811],
                   179.62193127167353),
    'max_init_half': (lambda x: lax.reduce_window(x, 0.5, lax.max, (1, 1, 2, 2), (1, 1, 1, 1),
                                                  'SAME'),
                      (2, 3, 5, 6), [0.644218, 0.98545, 0.98545, 0.863209, 0.988168, 0.988168],
                      140.9802039858605),
    'grad_max': (lambda x: _weighted_grad(lambda x: lax.reduce_window(
        x, -np.inf, lax.max, (1, 1, 3, 2), (1, 1, 2, 2), 'SAME', (1, 1, 1, 2)), x),
        (2, 3, 5, 6), [1., 0.540302, -0.416147, -0.989992, 0., 0.], 1.5422617660509435),
    'grad_sum': (lambda x: _weighted_grad(lambda x: lax.reduce_window(
        x, 0., lax.add, (1, 1, 3, 2), (1, 1, 2, 2), 'SAME', (1, 1, 2, 1)), x),
        (2, 3, 5, 6), [1., 1., 0.540302, 0.540302, -0.416147, -0.416147], 3.0845235321018887),
    'grad_min': (lambda x: _weighted_grad(lambda x: lax.reduce_window(
        x, np.inf, lax.min, (1, 1, 2, 2), (1, 1, 2, 2), 'VALID'), x),
        (2, 3, 5, 6), [0., 0., 0., 0., 0., -0.416147], -0.34373766212713575),
    # Ties (x rounded to halves): each window's gradient goes to its first maximum.
    'grad_max_ties': (lambda x: jax.grad(lambda x: lax.reduce_window(
        x, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 1, 1), 'VALID').sum())(np.round(x * 2) / 2),
        (2, 3, 5, 6), [0., 1., 2., 1., 0., 0.], 120.0),
}


@pytest.mark.parametrize('name', list(JAX_RECORDED))
def test_against_jax_recorded(name, x64):
    f, shape, head, total = JAX_RECORDED[name]
    out = np.asarray(f(_x()))
    assert out.shape == shape
    np.testing.assert_allclose(np.round(out.ravel()[:6], 6), head, atol=1e-6)
    np.testing.assert_allclose(out.sum(), total, rtol=1e-10, atol=1e-12)


def test_integer_max_pool():
    x = jnp.arange(12, dtype=jnp.int32).reshape(3, 4)
    out = lax.reduce_window(x, jnp.iinfo(jnp.int32).min, lax.max, (2, 2), (1, 2), 'SAME')
    assert out.dtype == jnp.int32 and out.tolist() == [[5, 7], [9, 11], [9, 11]]


@pytest.mark.parametrize('op', ['add', 'max'])
def test_vmap(op):
    x = np.random.default_rng(2).standard_normal((3, 4, 6, 2)).astype(np.float32)
    init = _NP[op][1]
    f = lambda x: lax.reduce_window(x, init, _LAX[op], (2, 3, 1), (2, 1, 1), 'SAME')  # noqa
    for axis in (0, 2):
        ref = np.stack([np.asarray(f(np.take(x, k, axis))) for k in range(x.shape[axis])])
        np.testing.assert_allclose(np.asarray(jax.vmap(f, axis)(x)), ref)
        np.testing.assert_allclose(np.asarray(jax.jit(jax.vmap(f, axis))(x)), ref)
    g = jax.vmap(jax.grad(lambda x: f(x).sum()))(x)
    ref = np.stack([np.asarray(jax.grad(lambda x: f(x).sum())(x[k])) for k in range(3)])
    np.testing.assert_allclose(np.asarray(g), ref)


def test_avg_and_max_pool_grads_under_jit(x64):
    x = np.random.default_rng(3).standard_normal((2, 6, 6, 3))

    def loss(x):
        avg = lax.reduce_window(x, 0., lax.add, (1, 2, 2, 1), (1, 2, 2, 1), 'VALID') / 4
        mx = lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), 'SAME')
        return jnp.sum(avg ** 2) + jnp.sum(jnp.sin(mx))
    np.testing.assert_allclose(np.asarray(jax.jit(jax.grad(loss))(x)),
                               np.asarray(jax.grad(loss)(x)), rtol=1e-12)


@pytest.mark.parametrize('call, err, words', [
    (lambda: lax.reduce_window(jnp.ones((2, 3)), 0., lambda a, b: a + b, (1, 2), (1, 1), 'VALID'),
     NotImplementedError, ['reduce_window', 'lax.add, lax.max, lax.min or lax.mul']),
    (lambda: lax.reduce_window(jnp.ones((2, 3, 4)), 0., lax.add, (2, 2), (2, 2), 'VALID'),
     TypeError, ['wrong number of window_dimensions', '(2, 3, 4)', '(2, 2)']),
    (lambda: lax.reduce_window(jnp.ones((2, 3)), 0., lax.add, (1, 0), (1, 1), 'VALID'),
     TypeError, ['reduce_window_sum', 'window_dimensions must be positive']),
    (lambda: lax.reduce_window(jnp.ones((2, 3)), 0., lax.add, (1, 2), (1, 1), 'FOO'),
     RuntimeError, ['Unrecognized padding type']),
])
def test_errors(call, err, words):
    with pytest.raises(err) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))
