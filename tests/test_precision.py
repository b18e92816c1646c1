"""Matmul precision: lax.Precision, `precision=` on every product, the
jax_default_matmul_precision option and its context manager, jit caching, and on a GPU
TF32 against full float32. Expected values and messages were recorded from JAX 0.10.2."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import dtypes, lax
from tinyjax.ops.precision import allows_tf32

P = lax.Precision
# jax.lax.Precision(value) for each value JAX accepts (recorded).
JAX_PRECISION = {'default': P.DEFAULT, 'high': P.HIGH, 'highest': P.HIGHEST,
                 'bfloat16': P.DEFAULT, 'tensorfloat32': P.HIGH, 'float32': P.HIGHEST,
                 'fastest': P.DEFAULT, 'bfloat16_3x': P.HIGH, None: P.DEFAULT,
                 0: P.DEFAULT, 1: P.HIGH, 2: P.HIGHEST}
BAD = ['foo', 5, ('high',), ('a', 'b'), 1.5, 'HIGH', (P.DEFAULT, 'highest')]


def _operands(shape_a=(2, 3), shape_b=(3, 4), dtype=np.float32):
    rng = np.random.default_rng(0)
    return (jnp.asarray(rng.standard_normal(shape_a).astype(dtype)),
            jnp.asarray(rng.standard_normal(shape_b).astype(dtype)))


def _dot_precisions(f, *args):
    """The precision param of every dot_general in f's jaxpr."""
    return [e.params['precision'] for e in jax.make_jaxpr(f)(*args).eqns
            if e.prim.name == 'dot_general']


def test_precision_enum_matches_jax():
    assert [p.name for p in P] == ['DEFAULT', 'HIGH', 'HIGHEST']
    for value, expected in JAX_PRECISION.items():
        assert P(value) is expected, value
    assert (repr(P.HIGH), str(P.HIGH)) == ('Precision.HIGH', 'HIGH')
    for bad in (('high', 'highest'), 'HIGH', 3):
        with pytest.raises(ValueError):
            P(bad)


def test_jaxpr_shows_precision_as_jax_prints_it():
    x, y = _operands()
    cases = {None: None, 'high': '(Precision.HIGH, Precision.HIGH)',
             'highest': '(Precision.HIGHEST, Precision.HIGHEST)',
             'bfloat16': '(Precision.DEFAULT, Precision.DEFAULT)',
             'tensorfloat32': '(Precision.HIGH, Precision.HIGH)',
             'float32': '(Precision.HIGHEST, Precision.HIGHEST)',
             P.HIGH: '(Precision.HIGH, Precision.HIGH)',
             ('high', 'highest'): '(Precision.HIGH, Precision.HIGHEST)',
             (P.DEFAULT, P.HIGHEST): '(Precision.DEFAULT, Precision.HIGHEST)'}
    for precision, shown in cases.items():
        text = str(jax.make_jaxpr(lambda a, b: jnp.dot(a, b, precision=precision))(x, y))
        if shown is None:     # JAX leaves precision (and an unset element type) out
            assert 'precision' not in text and 'preferred_element_type' not in text
        else:
            assert f'precision={shown}' in text, (precision, text)


@pytest.mark.parametrize('name', ['lax.dot', 'lax.dot_general', 'dot', 'matmul', 'einsum',
                                  'inner', 'tensordot', 'vdot', 'multi_dot'])
def test_every_product_passes_precision_through(name):
    x, y = _operands((3, 3), (3, 3))
    f = {'lax.dot': lambda a, b, p: lax.dot(a, b, precision=p),
         'lax.dot_general': lambda a, b, p: lax.dot_general(a, b, (((1,), (0,)), ((), ())), p),
         'dot': lambda a, b, p: jnp.dot(a, b, precision=p),
         'matmul': lambda a, b, p: jnp.matmul(a, b, precision=p),
         'einsum': lambda a, b, p: jnp.einsum('ij,jk->ik', a, b, precision=p),
         'inner': lambda a, b, p: jnp.inner(a, b, precision=p),
         'tensordot': lambda a, b, p: jnp.tensordot(a, b, 1, precision=p),
         'vdot': lambda a, b, p: jnp.vdot(a, b, precision=p),
         'multi_dot': lambda a, b, p: jnp.linalg.multi_dot([a, b, a], precision=p)}[name]
    shown = _dot_precisions(lambda a, b: f(a, b, ('highest', 'high')), x, y)
    assert shown and all(s == (P.HIGHEST, P.HIGH) for s in shown)
    # On the CPU every precision computes in full float32, as JAX's CPU backend does.
    ref = np.asarray(f(np.asarray(x, np.float64), np.asarray(y, np.float64), None))
    for p in ('bfloat16', 'tensorfloat32', 'highest'):
        np.testing.assert_allclose(np.asarray(f(x, y, p)), ref, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize('bad', BAD, ids=repr)
def test_bad_precision_is_a_value_error_naming_op_value_and_fix(bad):
    x, y = _operands()
    with pytest.raises(ValueError, match='matmul: precision argument must be one of') as e:
        jnp.matmul(x, y, precision=bad)
    assert 'but got' in str(e.value) and "precision=\"highest\"" in str(e.value)
    with pytest.raises(ValueError, match='dot_general: precision'):
        lax.dot_general(x, y, (((1,), (0,)), ((), ())), bad)
    for f, op in ((jnp.convolve, 'convolve'), (jnp.correlate, 'correlate'),
                  (jnp.linalg.vecdot, "vecdot")):    # elementwise, yet checked as in JAX
        with pytest.raises(ValueError, match=f'{op}: precision'):
            f(jnp.ones(3), jnp.ones(3), precision=bad)


def test_config_option_accepts_jax_values_and_rejects_others():
    x, y = _operands()
    accepted = {'bfloat16': 'DEFAULT', 'tensorfloat32': 'HIGH', 'float32': 'HIGHEST',
                'default': 'DEFAULT', 'high': 'HIGH', 'highest': 'HIGHEST'}
    try:
        for value, level in accepted.items():
            jax.config.update('jax_default_matmul_precision', value)
            assert jax.config.jax_default_matmul_precision == value
            assert _dot_precisions(jnp.dot, x, y) == [(P[level], P[level])]
        # JAX rejects these as config values (they are only aliases for precision=).
        for bad in ('fastest', 'bfloat16_3x', 'foo', 5, P.HIGH):
            with pytest.raises(ValueError, match='new enum value must be None or in'):
                jax.config.update('jax_default_matmul_precision', bad)
        assert jax.config.jax_default_matmul_precision == 'highest'   # unchanged by errors
    finally:
        jax.config.update('jax_default_matmul_precision', None)
    assert _dot_precisions(jnp.dot, x, y) == [None]


def test_context_manager_sets_and_restores_and_explicit_precision_wins():
    x, y = _operands()
    assert jax.default_matmul_precision is not None
    with jax.default_matmul_precision('tensorfloat32'):
        assert jax.config.jax_default_matmul_precision == 'tensorfloat32'
        assert _dot_precisions(jnp.dot, x, y) == [(P.HIGH, P.HIGH)]
        assert _dot_precisions(lambda a, b: jnp.dot(a, b, precision='highest'), x, y) == \
            [(P.HIGHEST, P.HIGHEST)]
        with jax.default_matmul_precision('float32'):
            assert _dot_precisions(jnp.dot, x, y) == [(P.HIGHEST, P.HIGHEST)]
        assert jax.config.jax_default_matmul_precision == 'tensorfloat32'
    assert jax.config.jax_default_matmul_precision is None
    with pytest.raises(RuntimeError):
        with jax.default_matmul_precision('bfloat16'):
            raise RuntimeError('inside')
    assert jax.config.jax_default_matmul_precision is None
    with pytest.raises(ValueError, match='new enum value'):
        with jax.default_matmul_precision('foo'):
            pass


def test_jit_retraces_when_the_default_precision_changes():
    x, y = _operands()
    traces = []

    @jax.jit
    def f(a, b):
        traces.append(1)
        return a @ b

    want = np.asarray(x, np.float64) @ np.asarray(y, np.float64)
    np.testing.assert_allclose(f(x, y), want, rtol=1e-6)
    with jax.default_matmul_precision('float32'):
        np.testing.assert_allclose(f(x, y), want, rtol=1e-6)
        assert 'Precision.HIGHEST' in f.lower(x, y).as_text()
    np.testing.assert_allclose(f(x, y), want, rtol=1e-6)
    assert len(traces) == 2          # JAX also traces twice: the third call is a cache hit
    assert 'Precision' not in f.lower(x, y).as_text()


def test_grad_vmap_and_transpose_keep_the_precision():
    x, y = _operands()
    loss = lambda a, b: jnp.sum(jnp.tanh(jnp.dot(a, b, precision=('high', 'highest'))))
    pair = (P.HIGH, P.HIGHEST)        # JAX keeps the pair as it is in transposes
    shown = _dot_precisions(jax.grad(loss, argnums=(0, 1)), x, y)
    assert len(shown) == 3 and set(shown) == {pair}
    shown = _dot_precisions(jax.vmap(lambda a: jnp.dot(a, y, precision=('high', 'highest'))), x)
    assert shown == [pair]
    out, vjp = jax.vjp(lambda a: jnp.dot(a, y, precision='highest'), x)
    (ct,) = vjp(jnp.ones_like(out))
    np.testing.assert_allclose(ct, np.ones((2, 4)) @ np.asarray(y, np.float64).T, rtol=1e-6)
    g = jax.grad(loss)(x, y)
    t = np.tanh(np.asarray(x, np.float64) @ np.asarray(y, np.float64))
    np.testing.assert_allclose(g, (1 - t ** 2) @ np.asarray(y, np.float64).T, rtol=1e-5)


def test_tf32_rule():
    f32, bf16 = np.dtype(np.float32), dtypes.bfloat16
    assert allows_tf32(None, f32, f32) and allows_tf32((P.HIGH, P.HIGH), f32, f32)
    assert not allows_tf32((P.HIGHEST, P.HIGHEST), f32, f32)
    assert not allows_tf32((P.DEFAULT, P.HIGHEST), f32, f32)   # the more precise side wins
    # bfloat16 values are exact in TF32, so upcast bf16 operands may always take it.
    assert allows_tf32((P.HIGHEST, P.HIGHEST), bf16, bf16)


def test_bfloat16_operands_on_the_cpu():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((64, 96)).astype(dtypes.bfloat16)
    b = rng.standard_normal((96, 32)).astype(dtypes.bfloat16)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    wide = jnp.dot(jnp.asarray(a), jnp.asarray(b), preferred_element_type=jnp.float32)
    assert wide.dtype == np.float32
    np.testing.assert_allclose(wide, exact, rtol=1e-5, atol=1e-5)
    narrow = jnp.dot(jnp.asarray(a), jnp.asarray(b), precision='highest')
    assert narrow.dtype == dtypes.bfloat16
    np.testing.assert_allclose(np.asarray(narrow, np.float64), exact, rtol=1e-2, atol=2e-2)


def test_cpu_path_never_imports_cublas():
    code = ('import sys, numpy as np, tinyjax as jax, tinyjax.numpy as jnp\n'
            'x = jnp.ones((8, 8))\n'
            'for p in (None, "bfloat16", "tensorfloat32", "float32"):\n'
            '    assert float(jax.jit(lambda a: jnp.sum(jnp.dot(a, a, precision=p)))(x)) == 512\n'
            'print(sorted(m for m in sys.modules if "cublas" in m))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         env={**os.environ, 'TINYJAX_PLATFORM': 'cpu'})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'


def test_cublas_switches_are_set_then_restored(monkeypatch):
    """The GPU branch with CuPy's two switches stubbed (no GPU here): TF32 on for DEFAULT,
    off for HIGHEST, not requested below sm_80, and the old settings back afterwards."""
    import types
    from tinyjax.ops import precision as prec
    state = {'mode': 0, 'type': 1, 'cc': '90'}
    gemm = types.SimpleNamespace(
        COMPUTE_TYPE_DEFAULT=1, COMPUTE_TYPE_TF32=7,
        get_compute_type=lambda dt: state['type'],
        set_compute_type=lambda dt, t: state.update(type=t))
    cublas = types.SimpleNamespace(
        CUBLAS_DEFAULT_MATH=0, CUBLAS_TF32_TENSOR_OP_MATH=3,
        getMathMode=lambda h: state['mode'], setMathMode=lambda h, m: state.update(mode=m))
    device = types.SimpleNamespace(get_compute_capability=lambda: state['cc'],
                                   get_cublas_handle=lambda: 1234)
    cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(device=device))
    core = types.SimpleNamespace(_routines_linalg=gemm)
    for name, mod in {'cupy': cupy, 'cupy._core': core, 'cupy._core._routines_linalg': gemm,
                      'cupy_backends.cuda.libs': types.SimpleNamespace(cublas=cublas),
                      'cupy_backends.cuda.libs.cublas': cublas}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    seen = []
    for cc, tf32, before in (('90', True, (0, 1)), ('90', False, (0, 1)), ('70', True, (0, 1)),
                             ('90', False, (3, 7))):        # e.g. CUPY_TF32=1 set TF32
        state.update(cc=cc, mode=before[0], type=before[1])
        with prec.cublas_float32_math(tf32):
            seen.append((state['mode'], state['type']))
        assert (state['mode'], state['type']) == before      # restored
    assert seen == [(3, 7), (0, 1), (0, 1), (0, 1)]


# --- on a GPU ----------------------------------------------------------------------------

def _gpu_matmul_errors(dtype=np.float32, **kw):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024)).astype(dtype)
    b = rng.standard_normal((1024, 1024)).astype(dtype)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    gpu = jax.devices('gpu')[0]
    ga, gb = jax.device_put(a, gpu), jax.device_put(b, gpu)

    def err(precision, jit=False):
        f = lambda x, y: jnp.matmul(x, y, precision=precision, **kw)
        out = (jax.jit(f) if jit else f)(ga, gb)
        return out.dtype, np.linalg.norm(np.asarray(out, np.float64) - ref) / np.linalg.norm(ref)
    return err


@pytest.mark.gpu
def test_gpu_tf32_for_default_and_full_float32_for_highest():
    import cupy
    from cupy._core import _routines_linalg as gemm
    from cupy_backends.cuda.libs import cublas
    err = _gpu_matmul_errors()
    handle = cupy.cuda.device.get_cublas_handle()
    before = (cublas.getMathMode(handle), gemm.get_compute_type(np.float32))
    highest = err('highest')[1]
    assert highest < 1e-5                           # float32: ~3e-7 in NumPy
    for p in (None, 'default', 'tensorfloat32', 'bfloat16'):
        tf32 = err(p)[1]
        assert 1e-4 < tf32 < 3e-3, (p, tf32)        # TF32: ~3e-4 rounded, ~8e-4 truncated
        assert err(p, jit=True)[1] == pytest.approx(tf32, rel=0.5)
    assert err('float32', jit=True)[1] < 1e-5
    with jax.default_matmul_precision('float32'):
        assert err(None, jit=True)[1] < 1e-5
    assert (cublas.getMathMode(handle), gemm.get_compute_type(np.float32)) == before


@pytest.mark.gpu
def test_gpu_bfloat16_operands():
    err = _gpu_matmul_errors(dtypes.bfloat16)
    dt, e = err(None)
    assert dt == dtypes.bfloat16 and e < 5e-3        # one bf16 rounding of the result
    err = _gpu_matmul_errors(dtypes.bfloat16, preferred_element_type=jnp.float32)
    dt, e = err('highest')
    assert dt == np.float32 and e < 1e-5             # exact products, float32 sums
