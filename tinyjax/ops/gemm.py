"""dot_general as one cuBLAS call on raw pointers (the GPU's prepared matmul).

`cupy.matmul` decides layouts, strides and types on every call; a compiled Program knows
them once. For a dot_general whose operands are (batch..., rows, cols) with the batch
axes leading in both, one contracting axis each and no type change, `plan` works out the
cublasGemmStridedBatchedEx arguments once, and `gemm_call` makes the call: output
allocated, pointers read, one C call. Anything else keeps the general rule in
linalg.py.

cuBLAS is column-major. A row-major buffer X of shape (r, c) is, read column-major, the
matrix X^T with leading dimension c. We want C = A B with C (M, N) row-major, that is
C^T = B^T A^T column-major: so the first cuBLAS operand is the rhs and the second the
lhs, m = N, n = M, and an operand stored already transposed (its contracting axis first)
is read with op = T.
"""
import collections
import math

import numpy as np

from tinyjax import dtypes

OP_N, OP_T = 0, 1
# cudaDataType and cublasComputeType_t values (cuBLAS headers, stable since CUDA 11).
DATA_TYPE = {np.dtype(np.float32): 0, np.dtype(np.float64): 1, np.dtype(np.float16): 2,
             np.dtype(dtypes.bfloat16): 14}
COMPUTE_32F, COMPUTE_32F_FAST_TF32, COMPUTE_64F = 68, 77, 70
GEMM_DEFAULT = -1

Gemm = collections.namedtuple(
    'Gemm', 'transa transb m n k lda ldb ldc stride_a stride_b stride_c batch out_shape')


def plan(lhs, rhs, dimension_numbers, preferred_element_type=None):
    """The cuBLAS arguments for dot_general of avals lhs and rhs, or None when this layout
    is not one cuBLAS call here. The first cuBLAS operand ("a") is the rhs buffer, the
    second ("b") the lhs buffer, the result is written row-major in the output's shape."""
    (lc, rc), (lb, rb) = dimension_numbers
    nbatch = len(lb)
    if (lhs.dtype != rhs.dtype or np.dtype(lhs.dtype) not in DATA_TYPE
            or (preferred_element_type is not None
                and np.dtype(preferred_element_type) != lhs.dtype)):
        return None
    if (tuple(lb) != tuple(range(nbatch)) or tuple(rb) != tuple(range(nbatch))
            or lhs.ndim != nbatch + 2 or rhs.ndim != nbatch + 2 or len(lc) != 1 or len(rc) != 1):
        return None
    l_contract_last = lc[0] == nbatch + 1       # lhs stored (M, K), else (K, M)
    r_contract_first = rc[0] == nbatch          # rhs stored (K, N), else (N, K)
    ls, rs = lhs.shape[nbatch:], rhs.shape[nbatch:]
    m_rows, k = (ls[0], ls[1]) if l_contract_last else (ls[1], ls[0])
    n_cols = rs[1] if r_contract_first else rs[0]
    batch = math.prod(lhs.shape[:nbatch])
    if 0 in (m_rows, n_cols, k, batch) or k == 1 or max(m_rows, n_cols, k) >= 2 ** 31:
        return None       # empty, an outer product (elementwise is better), or too big
    return Gemm(transa=OP_N if r_contract_first else OP_T,
                transb=OP_N if l_contract_last else OP_T,
                m=n_cols, n=m_rows, k=k,
                lda=rs[1], ldb=ls[1], ldc=n_cols,
                stride_a=k * n_cols, stride_b=m_rows * k, stride_c=m_rows * n_cols,
                batch=batch,
                out_shape=tuple(lhs.shape[:nbatch]) + (m_rows, n_cols))


def reference(g, a, b):
    """What cuBLAS computes for plan g on flat buffers a (rhs) and b (lhs), in NumPy:
    the column-major semantics the tests check a plan against."""
    out = np.empty(g.batch * g.stride_c, np.result_type(a, b))

    def op(buf, trans, rows, cols, ld, offset):
        # column-major matrix of rows x cols as op(X) from a buffer with leading dim ld
        stored = (rows, cols) if trans == OP_N else (cols, rows)
        x = np.lib.stride_tricks.as_strided(buf[offset:], shape=stored,
                                            strides=(buf.itemsize, ld * buf.itemsize))
        return x if trans == OP_N else x.T

    for i in range(g.batch):
        ma = op(a, g.transa, g.m, g.k, g.lda, i * g.stride_a)
        mb = op(b, g.transb, g.k, g.n, g.ldb, i * g.stride_b)
        c = ma @ mb                                   # m x n, column-major into out
        np.lib.stride_tricks.as_strided(
            out[i * g.stride_c:], shape=(g.m, g.n),
            strides=(out.itemsize, g.ldc * out.itemsize))[...] = c
    return out.reshape(g.out_shape)


def gemm_call(xp, g, dtype, tf32):
    """fn(lhs, rhs) -> result running plan g through cuBLAS on the current stream (CuPy's
    binding sets the handle's stream to it). `tf32`: float32 may use TF32 tensor cores."""
    from cupy_backends.cuda.libs import cublas  # lazy: CuPy is optional (GPU only)
    dtype = np.dtype(dtype)
    dt = DATA_TYPE[dtype]
    tf32 = tf32 and int(xp.cuda.device.get_compute_capability()) >= 80
    if dtype == np.float64:
        compute, scale = COMPUTE_64F, np.float64
    else:
        compute, scale = (COMPUTE_32F_FAST_TF32 if tf32 and dtype == np.float32
                          else COMPUTE_32F), np.float32
    one, zero = np.ones(1, scale), np.zeros(1, scale)      # host scalars, kept alive here
    alpha, beta = one.ctypes.data, zero.ctypes.data
    get_handle, empty, contiguous = xp.cuda.device.get_cublas_handle, xp.empty, xp.ascontiguousarray
    gemm = cublas.gemmStridedBatchedEx

    def run(lhs, rhs):
        lhs, rhs = contiguous(lhs), contiguous(rhs)
        out = empty(g.out_shape, dtype)
        gemm(get_handle(), g.transa, g.transb, g.m, g.n, g.k,
             alpha, rhs.data.ptr, dt, g.lda, g.stride_a,
             lhs.data.ptr, dt, g.ldb, g.stride_b,
             beta, out.data.ptr, dt, g.ldc, g.stride_c, g.batch, compute, GEMM_DEFAULT)
        return out
    run.host_scalars = (one, zero)      # alpha and beta point into these
    return run
