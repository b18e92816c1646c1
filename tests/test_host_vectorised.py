"""Host kernels whose loops g++ must vectorise: the compiler's own report on the source
tinyjax builds (its flags; g++ only), for patterns that once compiled to a scalar loop
with a branch per element (kernels/tj_common.cuh, tj_select)."""
import re
import subprocess

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax.compiler import hostcc


def _vectorised_lines(kernel, tmp_path):
    """Line numbers of the loops g++ reports vectorised in the kernel's host build, and
    the host source's lines."""
    if hostcc.compiler() is None or 'g++' not in hostcc.compiler_version().lower() and \
            'gcc' not in hostcc.compiler_version().lower():
        pytest.skip('needs g++ (its -fopt-info report)')
    src = hostcc.host_source('#include "tj_reduce.cuh"\n' + kernel.source)
    path = tmp_path / 'k.cpp'
    path.write_text(src)
    flags = [f for f in hostcc.FLAGS if f != '-w']
    run = subprocess.run([hostcc.compiler(), *flags, '-fopt-info-vec-optimized', str(path),
                          '-o', str(tmp_path / 'k.so')], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lines = {int(m.group(1)) for m in re.finditer(r'k\.cpp:(\d+):\d+: optimized: loop vectorized',
                                                  run.stderr)}
    return lines, src.splitlines()


def _line_of(lines, text, after=0):
    return next(i + 1 for i, ln in enumerate(lines) if i >= after and text in ln)


LOOP = 'for (int i = start + span.begin;'     # a loop kernel's walk over its share


def _assert_one_kernel_vectorised(f, x, tmp_path, loop_text=LOOP):
    """jit(f)(x) is one kernel, and g++ vectorises its loop (the line holding loop_text,
    the first after the kernel's signature)."""
    kernels = jax.jit(f).lower(x).program.kernels
    assert len(kernels) == 1
    done, src = _vectorised_lines(kernels[0], tmp_path)
    start = _line_of(src, f'void {kernels[0].name}(') if loop_text == LOOP else 0
    loop = _line_of(src, loop_text, start)
    assert loop in done, (loop, sorted(done))
    return kernels[0]


@pytest.mark.parametrize('name', ['maximum', 'relu'])
def test_relu_gradient_loop_vectorises(tmp_path, name):
    """grad of sum(maximum(x, 0) * x): max(x, 0) and its gradient, which compares x and 0
    with it, in one loop. With max's select as `?:` PRE made it a branch: 4.7 ms over
    2^20 floats, 0.20 vectorised. (jax.nn.relu's own gradient is a select on x > 0.)"""
    relu = jax.nn.relu if name == 'relu' else (lambda x: jnp.maximum(x, 0))
    f = jax.grad(lambda x: jnp.sum(relu(x) * x))
    x = jnp.asarray(np.linspace(-2, 2, 4096, dtype=np.float32))
    _assert_one_kernel_vectorised(f, x, tmp_path)
    np.testing.assert_array_equal(np.asarray(jax.jit(f)(x)),
                                  np.where(np.asarray(x) > 0, 2 * np.asarray(x), 0))


def test_bias_relu_gradient_column_kernel_vectorises(tmp_path):
    """A layer's backward: the ReLU's masked gradient and the bias gradient (a column
    kernel that recomputes maximum(h + b, 0), fusion.recompute_in_kernels), the walk over
    a tile's columns vectorised (scalar with `?:`: the MLP's 1.3 ms instead of 0.2)."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((64, 32), dtype=np.float32))
    w = jnp.asarray(rng.standard_normal((32, 256), dtype=np.float32))
    b = jnp.asarray(rng.standard_normal(256, dtype=np.float32))

    def loss(w, b):
        return jnp.sum(jnp.square(jnp.maximum(x @ w + b, 0) @ jnp.ones((256, 3))))
    program = jax.jit(jax.grad(loss, argnums=1)).lower(w, b).program
    cols = [k for k in program.kernels if 'tj_col_reduce' in k.source]
    assert len(cols) == 1
    # the pre-activation and the incoming gradient, not also the stored ReLU output
    assert [tuple(v.aval.shape) for v in cols[0].inputs].count((64, 256)) == 2
    done, src = _vectorised_lines(cols[0], tmp_path)
    loop = _line_of(src, 'acc[row - rt] = op(acc[row - rt], p(row, j))')
    assert loop in done, (loop, sorted(done))
    h = np.asarray(x, np.float64) @ np.asarray(w, np.float64) + np.asarray(b, np.float64)
    g = 2 * (np.maximum(h, 0) @ np.ones((256, 3))) @ np.ones((3, 256)) * (h > 0)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.grad(loss, argnums=1))(w, b)),
                               g.sum(0), rtol=1e-4, atol=1e-3)


def test_integer_pow_vectorises(tmp_path):
    """x ** 2 (lax.integer_pow): its squarings unroll at compile time (a template
    exponent), so the loops around them vectorise; a loop over the exponent's bits kept
    them scalar (x ** 2 over 2^20 float32: 3x x * x's time, 7x inside a sum)."""
    x = jnp.asarray(np.linspace(0.5, 2, 4096, dtype=np.float32))
    _assert_one_kernel_vectorised(lambda x: x ** 2 + x ** -3, x, tmp_path)
    _assert_one_kernel_vectorised(lambda x: jnp.sum(x ** 3), x, tmp_path,
                                  'acc[i] = op(acc[i], p1(jt + (I)i))')
    x64 = np.asarray(x, np.float64)
    np.testing.assert_allclose(np.asarray(jax.jit(lambda x: x ** 2 + x ** -3)(x)),
                               x64 ** 2 + x64 ** -3, rtol=1e-6)
    np.testing.assert_allclose(float(jax.jit(lambda x: jnp.sum(x ** 3))(x)), np.sum(x64 ** 3),
                               atol=1e-3)


def test_sum_folds_whole_stretches_in_registers(tmp_path):
    """jnp.sum over a long row: the fold's whole stretches of TJ_HOST_ACCS columns compile
    to a straight run of vector adds into registers, the elements loaded contiguously.
    Without the bound on jt (-fwrapv) g++ gathered them one by one; with the variable-length
    loop alone, each accumulator was loaded and stored once per vector (2^20 float32, one
    thread: about 100 us against 80)."""
    if '-mavx2' not in hostcc.FLAGS:
        pytest.skip('reads the AVX2 assembly')
    x = jnp.asarray(np.arange(1 << 16, dtype=np.float32) % 7)
    kernel, = jax.jit(jnp.sum).lower(x).program.kernels
    _vectorised_lines(kernel, tmp_path)            # skips without g++
    flags = [f for f in hostcc.FLAGS if f not in ('-w', '-shared')]
    path = tmp_path / 'k.cpp'
    run = subprocess.run([hostcc.compiler(), *flags, '-S', str(path), '-o', str(tmp_path / 'k.s')],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    asm = (tmp_path / 'k.s').read_text()
    body = asm[asm.index(f'{kernel.name}:'):]
    body = body[:body.index('.cfi_endproc')]
    assert 'vinsertps' not in body and 'vpextrd' not in body    # no element-wise gather
    run_of_adds = longest = 0
    for line in body.splitlines():
        run_of_adds = run_of_adds + 1 if line.strip().startswith('vaddps') else 0
        longest = max(longest, run_of_adds)
    assert longest >= 8, longest        # 8 vectors of 8 accumulators, back to back
    assert float(jax.jit(jnp.sum)(x)) == float(np.sum(np.asarray(x), dtype=np.float64))


_X = np.linspace(-2.7, 3.1, 4099, dtype=np.float32)
_Y = np.linspace(0.6, 2.2, 4099, dtype=np.float32)
# Elementwise ops whose host loop vectorises, with NumPy's float32 result: all of the
# float32 ones but those that call a scalar libm function or branch per element (lgamma,
# erf_inv, fmod/remainder, nextafter).
VECTOR_OPS = [
    ('exp', jnp.exp, np.exp), ('log', lambda x: jnp.log(jnp.abs(x) + 1), lambda x: np.log(np.abs(x) + 1)),
    ('tanh', jnp.tanh, np.tanh), ('sin', jnp.sin, np.sin), ('sqrt', lambda x: jnp.sqrt(jnp.abs(x)),
                                                           lambda x: np.sqrt(np.abs(x))),
    ('sigmoid', jax.nn.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    ('floor', jnp.floor, np.floor), ('ceil', jnp.ceil, np.ceil), ('trunc', jnp.trunc, np.trunc),
    ('round', jnp.round, np.round), ('sign', jnp.sign, np.sign), ('abs', jnp.abs, np.abs),
    ('square', lambda x: x ** 2, np.square), ('clip', lambda x: jnp.clip(x, -1, 1),
                                               lambda x: np.clip(x, -1, 1)),
    ('to float16', lambda x: x.astype(jnp.float16), lambda x: x.astype(np.float16)),
    ('to bfloat16', lambda x: x.astype(jnp.bfloat16).astype(jnp.float32),
     lambda x: x.astype(jnp.bfloat16).astype(np.float32)),
    ('to int32', lambda x: x.astype(jnp.int32), lambda x: x.astype(np.int32)),
    ('floor_divide', lambda x: jnp.floor_divide(x, jnp.asarray(_Y)), lambda x: np.floor_divide(x, _Y)),
    ('power', lambda x: jnp.power(jnp.asarray(_Y), x), lambda x: np.power(_Y, x)),
    ('maximum', lambda x: jnp.maximum(x, jnp.asarray(_Y)), lambda x: np.maximum(x, _Y)),
]


@pytest.mark.parametrize('name,f,ref', VECTOR_OPS, ids=[c[0] for c in VECTOR_OPS])
def test_elementwise_loops_vectorise(tmp_path, name, f, ref):
    """floor, ceil and trunc stayed scalar until the kernels were built with
    -fno-trapping-math; sign while it branched on NaN (tj_common.cuh); x ** 2 while its
    squarings looped over the exponent's bits."""
    x = jnp.asarray(_X)
    _assert_one_kernel_vectorised(f, x, tmp_path)
    got = np.asarray(jax.jit(f)(x)).astype(np.float64)
    np.testing.assert_allclose(got, ref(_X).astype(np.float64), rtol=2e-6, atol=1e-7)
