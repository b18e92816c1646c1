"""lax.conv_general_dilated and its wrappers: values against a direct-loop NumPy
convolution and JAX-recorded values (tests/data/jax_conv.*), derivatives against finite
differences, vmap, jit, jaxpr printing, errors, and a tiny CNN."""
import itertools
import json
import pathlib
import sys

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.test_util import check_grads

DATA = pathlib.Path(__file__).parent / 'data'
sys.path.insert(0, str(DATA))
import jax_conv  # noqa: E402


def _take(x, lo, hi, ax):
    return np.take(x, range(lo, x.shape[ax] - hi), axis=ax)


def ref_conv(lhs, rhs, strides, padding, lhs_dil, rhs_dil, dn, fgc=1, bgc=1):
    """Direct loop convolution in float64 on canonical (NC..., OI...) layouts."""
    ls, rs, os_ = dn
    x = np.transpose(np.asarray(lhs, np.float64), ls)
    w = np.transpose(np.asarray(rhs, np.float64), rs)
    n, c = x.shape[:2]
    o = w.shape[0]
    ks = w.shape[2:]
    xd = np.zeros((n, c) + tuple((s - 1) * d + 1 for s, d in zip(x.shape[2:], lhs_dil)))
    xd[(slice(None), slice(None)) + tuple(slice(None, None, d) for d in lhs_dil)] = x
    for k, (lo, hi) in enumerate(padding):
        ax = 2 + k
        xd = _take(xd, max(-lo, 0), max(-hi, 0), ax)
        widths = [(0, 0)] * xd.ndim
        widths[ax] = (max(lo, 0), max(hi, 0))
        xd = np.pad(xd, widths)
    span = [(k - 1) * d + 1 for k, d in zip(ks, rhs_dil)]
    osp = [max((xd.shape[2 + i] - span[i]) // strides[i] + 1, 0) for i in range(len(ks))]
    nb, cg, og = n // bgc, c // fgc, o // (fgc * bgc)
    out = np.zeros((nb, o) + tuple(osp))
    for b_, o_ in itertools.product(range(nb), range(o)):
        grp = o_ // og
        g, bg = (grp, 0) if fgc > 1 else (0, grp)
        for pos in itertools.product(*[range(s) for s in osp]):
            acc = 0.0
            for c_, kp in itertools.product(range(cg), itertools.product(*[range(k) for k in ks])):
                idx = tuple(p * s + q * d for p, s, q, d in zip(pos, strides, kp, rhs_dil))
                acc += xd[(bg * nb + b_, g * cg + c_) + idx] * w[(o_, c_) + kp]
            out[(b_, o_) + pos] = acc
    return np.transpose(out, np.argsort(os_))


CASES = [
    # lhs shape, rhs shape, window_strides, padding, lhs_dil, rhs_dil, dimension_numbers, fgc, bgc
    ((2, 3, 7, 6), (4, 3, 3, 2), (1, 1), 'SAME', None, None, None, 1, 1),
    ((2, 3, 7, 6), (4, 3, 3, 2), (2, 3), ((1, 2), (-1, 0)), (2, 1), (1, 2), None, 1, 1),
    ((2, 7, 6, 3), (3, 2, 3, 4), (2, 1), 'SAME', None, (2, 1), ('NHWC', 'HWIO', 'NHWC'), 1, 1),
    ((2, 6, 3, 5), (3, 2, 4, 3), (1, 2), 'VALID', None, None, ('NHCW', 'HWOI', 'CNWH'), 1, 1),
    ((2, 4, 9), (6, 2, 3), (2,), 'VALID', None, None, None, 2, 1),
    ((2, 4, 9), (8, 1, 3), (1,), 'SAME', None, None, None, 4, 1),
    ((4, 2, 9), (6, 2, 3), (1,), ((1, 0),), (2,), None, None, 1, 2),
    ((2, 2, 5, 4, 3), (3, 2, 2, 2, 2), (1, 2, 1), 'SAME_LOWER', None, None, None, 1, 1),
    ((1, 1, 3, 3), (1, 1, 5, 5), (1, 1), 'VALID', None, None, None, 1, 1),    # empty output
]


@pytest.mark.parametrize('case', CASES)
def test_against_loop_reference(case):
    ls, rs, strides, padding, ld, rd, dn, fgc, bgc = case
    rng = np.random.default_rng(0)
    lhs, rhs = rng.standard_normal(ls), rng.standard_normal(rs)
    out = lax.conv_general_dilated(lhs.astype(np.float32), rhs.astype(np.float32), strides,
                                   padding, ld, rd, dn, fgc, bgc)
    d = lax.conv_dimension_numbers(ls, rs, dn)
    nsp = len(ls) - 2
    ld, rd = ld or (1,) * nsp, rd or (1,) * nsp
    if isinstance(padding, str):
        padding = lax.padtype_to_pads([ls[i] for i in d.lhs_spec[2:]],
                                      [(rs[i] - 1) * r + 1 for i, r in zip(d.rhs_spec[2:], rd)],
                                      strides, padding)
    ref = ref_conv(lhs, rhs, strides, padding, ld, rd, d, fgc, bgc)
    assert out.shape == ref.shape and out.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out), ref, atol=1e-5, rtol=1e-5)
    jitted = jax.jit(lambda a, b: lax.conv_general_dilated(a, b, strides, padding, ld, rd, dn,
                                                           fgc, bgc))
    np.testing.assert_allclose(np.asarray(jitted(lhs.astype(np.float32),
                                                 rhs.astype(np.float32))), ref, atol=1e-5)


def test_against_jax_recorded(x64):
    recorded = json.loads((DATA / 'jax_conv.json').read_text())
    got = jax_conv.compute(jax, lax, jnp)
    assert set(got) == set(recorded)
    for name, fields in recorded.items():
        for field, want in fields.items():
            np.testing.assert_allclose(np.asarray(got[name][field]), np.asarray(want),
                                       atol=2e-8, err_msg=f'{name}.{field}')


GRAD_CASES = [
    dict(l=(2, 3, 5, 4), r=(4, 3, 3, 2), window_strides=(1, 1), padding='SAME'),
    dict(l=(2, 3, 5, 4), r=(4, 3, 2, 2), window_strides=(2, 1), padding=((1, 0), (0, 2)),
         lhs_dilation=(1, 2), rhs_dilation=(2, 1)),
    dict(l=(1, 4, 6), r=(6, 2, 3), window_strides=(2,), padding=((1, 1),), feature_group_count=2),
    dict(l=(4, 2, 5), r=(6, 2, 2), window_strides=(1,), padding=((1, 0),), batch_group_count=2),
    dict(l=(2, 5, 4, 3), r=(2, 2, 3, 4), window_strides=(1, 2), padding='VALID',
         dimension_numbers=('NHWC', 'HWIO', 'NHWC')),
    dict(l=(2, 4, 5), r=(4, 1, 3), window_strides=(1,), padding='SAME', feature_group_count=4),
    dict(l=(1, 1, 2), r=(1, 1, 1), window_strides=(1,), padding=((0, 4),)),   # negative t-pad
]


@pytest.mark.parametrize('case', GRAD_CASES)
def test_grads_order_2(case, x64):
    kw = dict(case)
    ls, rs = kw.pop('l'), kw.pop('r')
    rng = np.random.default_rng(1)
    f = lambda a, b: lax.conv_general_dilated(a, b, **kw)   # noqa: E731
    check_grads(f, (rng.standard_normal(ls), rng.standard_normal(rs)), order=2,
                modes=('fwd', 'rev'))


VMAP_CASES = [
    dict(l=(2, 6, 3, 5), r=(3, 2, 4, 3), window_strides=(1, 1), padding='SAME',
         dimension_numbers=('NHCW', 'HWOI', 'CNWH')),
    dict(l=(1, 4, 6), r=(6, 2, 3), window_strides=(2,), padding=((1, 1),), feature_group_count=2),
    dict(l=(4, 2, 5), r=(6, 2, 2), window_strides=(1,), padding=((1, 0),), batch_group_count=2),
]


@pytest.mark.parametrize('case', VMAP_CASES)
@pytest.mark.parametrize('axes', [(0, None), (None, 0), (0, 0), (2, 1)])
def test_vmap(case, axes):
    kw = dict(case)
    ls, rs = kw.pop('l'), kw.pop('r')
    f = lambda a, b: lax.conv_general_dilated(a, b, **kw)   # noqa: E731
    il, ir = axes
    rng = np.random.default_rng(2)
    L = rng.standard_normal(ls if il is None else ls[:il] + (3,) + ls[il:]).astype(np.float32)
    R = rng.standard_normal(rs if ir is None else rs[:ir] + (3,) + rs[ir:]).astype(np.float32)
    ref = np.stack([np.asarray(f(L if il is None else np.take(L, k, il),
                                 R if ir is None else np.take(R, k, ir))) for k in range(3)])
    np.testing.assert_allclose(np.asarray(jax.vmap(f, axes)(L, R)), ref, atol=1e-5)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.vmap(f, axes))(L, R)), ref, atol=1e-5)


def test_per_example_grads_vmap_of_grad(x64):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((4, 2, 6)), rng.standard_normal((3, 2, 3))
    loss = lambda w, x: jnp.sum(lax.conv(x[None], w, (1,), 'SAME') ** 2)   # noqa: E731
    per = jax.vmap(jax.grad(loss), (None, 0))(w, x)
    ref = np.stack([np.asarray(jax.grad(loss)(w, x[i])) for i in range(4)])
    np.testing.assert_allclose(np.asarray(per), ref, rtol=1e-10)


def test_jaxpr_printing():
    text = str(jax.make_jaxpr(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), 'SAME'))(
        jnp.ones((2, 3, 8, 8)), jnp.ones((4, 3, 3, 3))))
    assert 'c:f32[2,4,8,8] = conv_general_dilated[' in text
    for part in ('batch_group_count=1', 'feature_group_count=1', 'lhs_dilation=(1, 1)',
                 'padding=((1, 1), (1, 1))', 'rhs_dilation=(1, 1)', 'window_strides=(1, 1)',
                 'dimension_numbers=ConvDimensionNumbers(lhs_spec=(0, 1, 2, 3), '
                 'rhs_spec=(0, 1, 2, 3), out_spec=(0, 1, 2, 3))'):
        assert part in text


def test_dimension_numbers_forms():
    dn = lax.conv_dimension_numbers((1, 5, 4, 2), (3, 2, 2, 3), ('NHWC', 'HWIO', 'NHWC'))
    assert dn == lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    assert lax.conv_dimension_numbers((1, 2, 3), (1, 2, 3), None) == ((0, 1, 2),) * 3
    x, w = jnp.ones((1, 5, 4, 2)), jnp.ones((3, 2, 2, 3))
    a = lax.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=dn)
    b = lax.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_conv_wrappers():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((1, 2, 6, 5)), rng.standard_normal((3, 2, 3, 3))
    np.testing.assert_allclose(
        np.asarray(lax.conv(x, w, (2, 1), 'VALID')),
        np.asarray(lax.conv_general_dilated(x, w, (2, 1), 'VALID')))
    np.testing.assert_allclose(
        np.asarray(lax.conv_with_general_padding(x, w, (1, 1), ((1, 0), (2, 1)), (2, 1), (1, 2))),
        np.asarray(lax.conv_general_dilated(x, w, (1, 1), ((1, 0), (2, 1)), (2, 1), (1, 2))))


def test_dtypes_and_preferred_element_type():
    x, w = jnp.ones((1, 2, 4), jnp.bfloat16), jnp.ones((3, 2, 2), jnp.bfloat16)
    assert lax.conv(x, w, (1,), 'VALID').dtype == jnp.bfloat16
    out = lax.conv_general_dilated(x, w, (1,), 'VALID', preferred_element_type=jnp.float32)
    assert out.dtype == jnp.float32 and float(out[0, 0, 0]) == 4.0
    xi, wi = jnp.arange(8).reshape(1, 2, 4), jnp.ones((1, 2, 2), jnp.int32)
    out = lax.conv(xi, wi, (1,), 'VALID')
    assert out.dtype == jnp.int32 and out.tolist() == [[[10, 14, 18]]]


def test_numpy_convolve_uses_conv():
    text = str(jax.make_jaxpr(lambda a, v: jnp.convolve(a, v))(jnp.ones(7), jnp.ones(3)))
    assert 'conv_general_dilated' in text
    a, v = np.arange(5.0), np.array([1.0, -2.0, 0.5, 3.0, 1.0, 2.0])
    for mode in ('full', 'same', 'valid'):
        np.testing.assert_allclose(np.asarray(jnp.convolve(a, v, mode)), np.convolve(a, v, mode),
                                   atol=1e-5)
        np.testing.assert_allclose(np.asarray(jnp.correlate(a, v, mode)),
                                   np.correlate(a, v, mode), atol=1e-5)


@pytest.mark.parametrize('call, err, words', [
    (lambda: lax.conv(jnp.ones((2, 3, 8, 8)), jnp.ones((4, 2, 3, 3)), (1, 1), 'SAME'),
     ValueError, ['conv_general_dilated', 'f32[2,3,8,8]', 'f32[4,2,3,3]', '3 // 1 != 2']),
    (lambda: lax.conv_general_dilated(jnp.ones((2, 3, 8)), jnp.ones((4, 1, 3)), (1,), 'SAME',
                                      feature_group_count=2),
     ValueError, ['feature_group_count', '2 does not divide 3', 'f32[2,3,8]', 'divides']),
    (lambda: lax.conv_general_dilated(jnp.ones((2, 3, 8)), jnp.ones((4, 1, 3)), (1,), 'SAME',
                                      feature_group_count=3),
     ValueError, ['multiple of feature_group_count', '4 is not a multiple of 3']),
    (lambda: lax.conv_general_dilated(jnp.ones((2, 3, 8, 8)), jnp.ones((4, 3, 3, 3)), (1, 1),
                                      'SAME', dimension_numbers=('NCHW', 'OIHW', 'NCXW')),
     TypeError, ['same set of spatial characters', "('NCHW', 'OIHW', 'NCXW')", 'NHWC']),
    (lambda: lax.conv_general_dilated(jnp.ones((2, 3, 8, 8)), jnp.ones((4, 3, 3, 3)), (1, 1),
                                      'SAME', dimension_numbers=('NCH', 'OIHW', 'NCHW')),
     TypeError, ['len equal to the ndim', '(2, 3, 8, 8)']),
    (lambda: lax.conv_general_dilated(jnp.ones((2, 3, 8, 8)), jnp.ones((4, 3, 3, 3)), (1, 1),
                                      'SAME', dimension_numbers=('NCHW', 'OIHW')),
     TypeError, ['must be length 3']),
    (lambda: lax.conv(jnp.ones((2, 3, 8, 8)), jnp.ones((4, 3, 3)), (1, 1), 'SAME'),
     TypeError, ['ndim to be equal', '(2, 3, 8, 8)']),
    (lambda: lax.conv(jnp.ones((2, 3, 8, 8)), jnp.ones((4, 3, 3, 3)), (1,), 'SAME'),
     ValueError, ['window_strides']),
    (lambda: lax.conv(jnp.ones((2, 3, 8, 8)), jnp.ones((4, 3, 3, 3)), (1, 1), 'FOO'),
     RuntimeError, ['Unrecognized padding type']),
    (lambda: lax.conv(jnp.ones((2, 3, 8, 8)), jnp.ones((4, 3, 3, 3)), (1, 1), [(1, 1)]),
     TypeError, ['Wrong number of explicit pads']),
    (lambda: lax.conv(jnp.ones((1, 2, 4)), jnp.ones((1, 2, 2), jnp.int32), (1,), 'SAME'),
     TypeError, ['same dtypes', 'f32[1,2,4]', 'i32[1,2,2]']),
    (lambda: lax.conv_general_dilated(jnp.ones((3, 3, 8)), jnp.ones((4, 3, 3)), (1,), 'SAME',
                                      batch_group_count=2),
     ValueError, ['batch_group_count', '2 does not divide 3']),
    (lambda: lax.conv_general_dilated(jnp.ones((1, 2, 8)), jnp.ones((4, 2, 3)), (1,), 'SAME',
                                      lhs_dilation=(2,)),
     ValueError, ['String padding', 'conv_transpose']),
])
def test_errors(call, err, words):
    with pytest.raises(err) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


# --- a tiny CNN: conv -> relu -> avg-pool -> dense ------------------------------------
def _cnn_loss(params, x, y):
    w, b, dense = params
    h = lax.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    h = jnp.maximum(h + b, 0.0)
    h = lax.reduce_window(h, 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1), 'VALID') / 4.0
    logits = h.reshape(h.shape[0], -1) @ dense
    return jnp.mean((logits - y) ** 2)


def test_tiny_cnn_grad_jit_matches_eager_and_finite_differences(x64):
    rng = np.random.default_rng(5)
    params = (rng.standard_normal((3, 3, 2, 4)) * 0.5, rng.standard_normal(4) * 0.1,
              rng.standard_normal((3 * 2 * 4, 2)) * 0.3)
    x, y = rng.standard_normal((5, 6, 4, 2)), rng.standard_normal((5, 2))
    eager = jax.grad(_cnn_loss)(params, x, y)
    jitted = jax.jit(jax.grad(_cnn_loss))(params, x, y)
    for a, b in zip(eager, jitted):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)
    check_grads(lambda *p: _cnn_loss(p, x, y), params, order=1, modes=('rev',))
    # A few steps of gradient descent lower the loss.
    step = jax.jit(lambda p: jax.tree_util.tree_map(
        lambda v, g: v - 0.1 * g, p, jax.grad(_cnn_loss)(p, x, y)))
    before = float(_cnn_loss(params, x, y))
    for _ in range(5):
        params = step(params)
    assert float(_cnn_loss(params, x, y)) < before
