"""Matmul precision: `lax.Precision`, how a `precision=` argument is canonicalised (as JAX
does it), and what each level means on each device.

On the CPU every level computes in full precision, as JAX's CPU backend does. On a GPU,
float32 matmuls follow JAX's GPU semantics: DEFAULT and HIGH may use TF32 tensor cores
(sm_80 and later), HIGHEST computes in full float32. A pair (lhs, rhs) is as precise as
its more precise side.
"""
import contextlib
import enum

import numpy as np

from tinyjax import config


class Precision(enum.Enum):
    """JAX's precision levels for dot_general; strings and ints name them too."""
    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value):
        return _STRINGS.get(value) if isinstance(value, (str, type(None))) else None

    def __repr__(self):
        return f'Precision.{self.name}'

    def __str__(self):
        return self.name


_STRINGS = {
    'highest': Precision.HIGHEST, 'float32': Precision.HIGHEST,
    'high': Precision.HIGH, 'bfloat16_3x': Precision.HIGH, 'tensorfloat32': Precision.HIGH,
    'default': Precision.DEFAULT, 'bfloat16': Precision.DEFAULT, 'fastest': Precision.DEFAULT,
    None: Precision.DEFAULT,
}


def canonicalize_precision(precision, op='dot_general'):
    """None, a string, a Precision or a pair of either -> None or (Precision, Precision).

    None takes `jax_default_matmul_precision` at trace time, so the setting is baked
    into the graph (and jit keys its cache on it), as in JAX."""
    if precision is None:
        default = config.read('jax_default_matmul_precision')
        return None if default is None else canonicalize_precision(default, op)
    if isinstance(precision, str) and precision in _STRINGS:
        return Precision(precision), Precision(precision)
    if isinstance(precision, Precision):
        return precision, precision
    if isinstance(precision, (list, tuple)) and len(precision) == 2:
        if all(isinstance(p, Precision) for p in precision):
            return tuple(precision)
        if all(isinstance(p, str) for p in precision):
            return tuple(canonicalize_precision(p, op)[0] for p in precision)
    raise ValueError(
        f'{op}: precision argument must be one of:\n'
        '- None,\n'
        f'- a string in {[s for s in _STRINGS if s is not None]},\n'
        '- a lax.Precision value,\n'
        '- a tuple of two lax.Precision values or strings;\n'
        f'but got {precision!r}. For full float32 accuracy pass precision="highest" '
        '(lax.Precision.HIGHEST). tinyjax does not support lax.DotAlgorithm presets.')


_HALF = ('float16', 'bfloat16')


def allows_tf32(precision, lhs_dtype, rhs_dtype):
    """May a float32 GEMM with these operands round its inputs to TF32?

    16-bit float operands upcast to float32 lose nothing to TF32 (10 mantissa bits hold
    bfloat16's 7 and float16's 10), so their float32-result matmuls take tensor cores
    whatever the precision."""
    if np.dtype(lhs_dtype).name in _HALF and np.dtype(rhs_dtype).name in _HALF:
        return True
    return precision is None or max(p.value for p in precision) < Precision.HIGHEST.value


@contextlib.contextmanager
def cublas_float32_math(tf32):
    """CuPy's float32 GEMMs with TF32 tensor cores on or off; the previous settings return
    afterwards. Two switches, because CuPy routes GEMMs two ways: 2-D products through
    its per-dtype compute type (`CUPY_TF32` seeds it), batched ones through cuBLAS with
    CUBLAS_COMPUTE_32F, which follows the handle's math mode. GPU only: imports cuBLAS."""
    import cupy  # lazy: CuPy is optional (GPU only)
    from cupy._core import _routines_linalg as gemm  # lazy: CuPy is optional (GPU only)
    from cupy_backends.cuda.libs import cublas  # lazy: CuPy is optional (GPU only)
    tf32 = tf32 and int(cupy.cuda.device.get_compute_capability()) >= 80
    handle = cupy.cuda.device.get_cublas_handle()

    def switch(mode, compute_type):
        cublas.setMathMode(handle, mode)
        gemm.set_compute_type(np.float32, compute_type)
    want = ((cublas.CUBLAS_TF32_TENSOR_OP_MATH, gemm.COMPUTE_TYPE_TF32) if tf32
            else (cublas.CUBLAS_DEFAULT_MATH, gemm.COMPUTE_TYPE_DEFAULT))
    old = (cublas.getMathMode(handle), gemm.get_compute_type(np.float32))
    if old != want:
        switch(*want)
    try:
        yield
    finally:
        if old != want:
            switch(*old)
