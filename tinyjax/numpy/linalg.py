"""tinyjax.numpy.linalg: JAX's jnp.linalg on the decomposition primitives
(`tinyjax/ops/decompositions.py`). Every function maps over leading axes."""
import collections
import operator

import numpy as np

from tinyjax import dtypes, lax
from tinyjax.numpy import reductions, ufuncs
from tinyjax.numpy.conversion import asarray, broadcast_shapes, broadcast_to
from tinyjax.numpy.creation import eye, ones_like
from tinyjax.numpy.manipulation import (  # noqa: F401
    matrix_transpose, moveaxis, reshape, expand_dims, concatenate)
from tinyjax.numpy.manipulation import diagonal as _diagonal, trace as _trace
from tinyjax.numpy.products import matmul, tensordot  # noqa: F401
from tinyjax.numpy.products import outer as _outer, cross as _cross
from tinyjax.ops import decompositions as dec
from tinyjax.ops.precision import canonicalize_precision
from tinyjax.transforms.custom import custom_jvp

EighResult = collections.namedtuple('EighResult', ['eigenvalues', 'eigenvectors'])
QRResult = collections.namedtuple('QRResult', ['Q', 'R'])
SVDResult = collections.namedtuple('SVDResult', ['U', 'S', 'Vh'])
SlogdetResult = collections.namedtuple('SlogdetResult', ['sign', 'logabsdet'])


# --- argument checks ---------------------------------------------------------------------
def _float(x, op):
    """x as a float32/float64/complex64/complex128 array: integers and bools promote to
    the default float as in JAX; half precision computes in float32 (LAPACK has no half
    routines)."""
    x = asarray(x)
    if dtypes.is_complex(x.dtype):
        return x
    if not dtypes.is_inexact(x.dtype):
        return lax.convert_element_type(x, dtypes.default_float())
    if x.dtype not in (dtypes.float32, dtypes.float64):
        return lax.convert_element_type(x, dtypes.float32)
    return x


def _square(x, op):
    x = _float(x, op)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f'{op}: argument must have shape (..., n, n) (a square matrix or a '
                         f'stack of them), got {x.shape}.')
    return x


def _matrix(x, op):
    x = _float(x, op)
    if x.ndim < 2:
        raise ValueError(f'{op}: argument must have shape (..., m, n) (a matrix or a stack of '
                         f'them), got {x.shape}; reshape a vector to (1, n) or (n, 1).')
    return x


def _same_dtype(a, b):
    dt = dtypes.promote_types(a.dtype, b.dtype)
    return lax.convert_element_type(a, dt), lax.convert_element_type(b, dt)


def _H(x):
    """The conjugate transpose of a matrix (or stack of them); the transpose for real x."""
    return ufuncs.conjugate(matrix_transpose(x))


def _symmetrize(x):
    """(x + x^H) / 2: the Hermitian part (symmetric for real x)."""
    return ufuncs.divide(ufuncs.add(x, _H(x)), ufuncs._const(x, 2))


def _eye_like(x):
    return broadcast_to(eye(x.shape[-1], dtype=x.dtype), x.shape)


# --- decompositions ----------------------------------------------------------------------
def cholesky(a, *, upper=False, symmetrize_input=True):
    a = _square(a, 'cholesky')
    if symmetrize_input:
        a = _symmetrize(a)
    L = dec.cholesky(a)
    return _H(L) if upper else L


def qr(a, mode='reduced'):
    a = _matrix(a, 'qr')
    if mode not in ('reduced', 'complete', 'r'):
        raise ValueError(f"qr: unsupported mode {mode!r}; use 'reduced', 'complete' or 'r'")
    q, r = dec.qr(a, full_matrices=mode == 'complete')
    return r if mode == 'r' else QRResult(q, r)


def eigh(a, UPLO=None, symmetrize_input=True):
    a = _square(a, 'eigh')
    if UPLO not in (None, 'L', 'U'):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    if symmetrize_input:
        a = _symmetrize(a)
    v, w = dec.eigh(a, lower=UPLO != 'U')
    return EighResult(w, v)


def eigvalsh(a, UPLO='L', *, symmetrize_input=True):
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    a = _matrix(a, 'svd')
    if not compute_uv:
        return dec.svd(a, full_matrices=False, compute_uv=False)[0]
    s, u, vt = dec.svd(a, full_matrices=full_matrices, compute_uv=True)
    return SVDResult(u, s, vt)


def svdvals(x, /):
    return svd(x, compute_uv=False)


# --- solving -------------------------------------------------------------------------------
def _lu_solve(lu, perm, b, trans=0):
    """Solve a x = b (trans 0) or a^T x = b (trans 1) from a's LU factors; b (..., m, k)."""
    p = dec._perm_matrix(perm, lu.dtype)
    if trans == 0:
        y = dec.triangular_solve(lu, matmul(p, b), left_side=True, lower=True,
                                 unit_diagonal=True)
        return dec.triangular_solve(lu, y, left_side=True, lower=False)
    y = dec.triangular_solve(lu, b, left_side=True, lower=False, transpose_a=True)
    z = dec.triangular_solve(lu, y, left_side=True, lower=True, transpose_a=True,
                             unit_diagonal=True)
    return matmul(matrix_transpose(p), z)


def _broadcast_batch(a, b, op):
    """Broadcast the leading axes of a (..., m, m) and b (..., m, k) to one shape."""
    try:
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op=op)
    except TypeError:
        raise ValueError(f'{op}: the leading (batch) axes of a {a.shape} and b {b.shape} do not '
                         'broadcast') from None
    return broadcast_to(a, batch + a.shape[-2:]), broadcast_to(b, batch + b.shape[-2:])


def solve(a, b):
    a = _square(a, 'solve')
    b = _float(b, 'solve')
    a, b = _same_dtype(a, b)
    m = a.shape[-1]
    vector = b.ndim == 1
    if vector:
        b = reshape(b, (m, 1) if b.shape[0] == m else b.shape + (1,))
    if b.ndim < 2 or b.shape[-2] != m or (not vector and b.ndim == a.ndim - 1):
        raise ValueError(f'solve: a has shape {a.shape}, so b must have shape ({m},) or '
                         f'(..., {m}, k), got {b.shape if not vector else b.shape[:1]}. For a '
                         'stack of vectors use solve(a, b[..., None])[..., 0].')
    a, b = _broadcast_batch(a, b, 'solve')
    lu, _, perm = dec.lu(a)
    x = _lu_solve(lu, perm, b)
    return x[..., 0] if vector else x


def inv(a):
    a = _square(a, 'inv')
    return solve(a, _eye_like(a))


def _lu_det_parts(a):
    lu, piv, _ = dec.lu(a)
    # Each pivot that moved a row flips the sign of the determinant.
    idx = lax.broadcasted_iota(piv.dtype, piv.shape, piv.ndim - 1)
    swaps = reductions.sum(ufuncs.not_equal(piv, idx), axis=-1)
    parity = ufuncs.where(ufuncs.equal(swaps % 2, 0), ufuncs._const(lu, 1), ufuncs._const(lu, -1))
    return _diagonal(lu, 0, -2, -1), parity


def det(a):
    """Determinant. 2x2 and 3x3 use the explicit cofactor formulas (as JAX does), whose
    derivative is the adjugate even at singular matrices; larger ones use LU, with a
    derivative rule that stays finite for rank n-1 (`_cofactor_solve`)."""
    a = _square(a, 'det')
    n = a.shape[-1]
    if n in (2, 3):
        e = lambda i, j: a[..., i, j]
        if n == 2:
            return e(0, 0) * e(1, 1) - e(0, 1) * e(1, 0)
        return (e(0, 0) * e(1, 1) * e(2, 2) + e(0, 1) * e(1, 2) * e(2, 0)
                + e(0, 2) * e(1, 0) * e(2, 1) - e(0, 2) * e(1, 1) * e(2, 0)
                - e(0, 0) * e(1, 2) * e(2, 1) - e(0, 1) * e(1, 0) * e(2, 2))
    return _det_lu(a)


@custom_jvp
def _det_lu(a):
    d, parity = _lu_det_parts(a)
    return ufuncs.multiply(parity, reductions.prod(d, axis=-1))


@_det_lu.defjvp
def _det_lu_jvp(primals, tangents):
    (a,), (t,) = primals, tangents
    value, adj_t = _cofactor_solve(a, t)
    return value, _trace(adj_t, 0, -2, -1)


def _cofactor_solve(a, b):
    """(det(a), adj(a) @ b), finite when a has rank n-1.

    With a[perm] = L U and U = D U', where U' is U with its last pivot set to 1 and
    D = diag(1, ..., 1, u_nn): adj(a) = sign * det(U') * U'^-1 adj(D) L^-1 P, and
    adj(D) = diag(u_nn, ..., u_nn, 1) is a polynomial in u_nn, so nothing divides by
    the last pivot. When another pivot is zero (rank < n-1, or a zero pivot earlier in
    the elimination) the adjugate is taken as 0, as JAX does."""
    n = a.shape[-1]
    if n == 1:
        return a[..., 0, 0], b
    lu, _, perm = dec.lu(a)
    d, parity = _lu_det_parts(a)
    last = d[..., -1:]
    lead = ufuncs.multiply(parity, reductions.prod(d[..., :-1], axis=-1))
    x = dec.triangular_solve(lu, matmul(dec._perm_matrix(perm, lu.dtype), b),
                             left_side=True, lower=True, unit_diagonal=True)
    scale = concatenate([broadcast_to(last, last.shape[:-1] + (n - 1,)),
                         ones_like(last)], axis=-1)
    x = ufuncs.multiply(x, scale[..., None])
    corner = ufuncs.logical_and(lax.broadcasted_iota(np.int32, (n, n), 0) == n - 1,
                                lax.broadcasted_iota(np.int32, (n, n), 1) == n - 1)
    # Where U' is singular too, solve with the identity instead (finite both ways, also
    # for the cotangents of the transposed solve) and give 0. The test reads only
    # primal values, so the result stays linear in b.
    ok = reductions.all(ufuncs.not_equal(d[..., :-1], 0), axis=-1)[..., None, None]
    u_prime = ufuncs.where(corner, ufuncs._const(lu, 1), lu)
    u_prime = ufuncs.where(ok, u_prime, eye(n, dtype=lu.dtype))
    y = ufuncs.multiply(lead[..., None, None],
                        dec.triangular_solve(u_prime, x, left_side=True, lower=False))
    return ufuncs.multiply(parity, reductions.prod(d, axis=-1)), \
        ufuncs.where(ok, y, ufuncs._const(y, 0))


def slogdet(a, *, method=None):
    a = _square(a, 'slogdet')
    return SlogdetResult(*_slogdet(a))


@custom_jvp
def _slogdet(a):
    d, parity = _lu_det_parts(a)
    # sign(d) is d / |d| for complex pivots (a unit complex number), as in JAX.
    sign = ufuncs.multiply(parity, reductions.prod(ufuncs.sign(d), axis=-1))
    return sign, reductions.sum(ufuncs.log(ufuncs.abs(d)), axis=-1)


@_slogdet.defjvp
def _slogdet_jvp(primals, tangents):
    # d log det(a) = tr(a^-1 da): its real part moves log|det|, its imaginary part turns
    # the sign (a real sign does not move), as in JAX.
    (a,), (t,) = primals, tangents
    sign, logabs = _slogdet(a)
    dlog = _trace(solve(a, t), 0, -2, -1)
    if not dtypes.is_complex(a.dtype):
        return (sign, logabs), (ufuncs.multiply(sign, ufuncs._const(sign, 0)), dlog)
    dlog_re = ufuncs.real(dlog)
    return (sign, logabs), (ufuncs.multiply(ufuncs.subtract(dlog, dlog_re.astype(dlog.dtype)), sign),
                            dlog_re)


def matrix_power(a, n):
    a = _square(a, 'matrix_power') if not dtypes.is_int(asarray(a).dtype) else asarray(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f'matrix_power: argument must be (..., n, n), got {a.shape}')
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f'matrix_power: exponent must be an integer, got {n!r}') from None
    if n == 0:
        return broadcast_to(eye(a.shape[-1], dtype=a.dtype), a.shape)
    if n < 0:
        a, n = inv(a), -n
    # Repeated squaring: O(log n) products.
    result, power = None, a
    while n:
        if n & 1:
            result = power if result is None else matmul(result, power)
        n >>= 1
        if n:
            power = matmul(power, power)
    return result


def matrix_rank(M, rtol=None, *, hermitian=False, tol=None):
    M = _float(M, 'matrix_rank')
    if M.ndim < 2:
        return reductions.any(ufuncs.not_equal(M, 0)).astype(np.int32)
    s = svdvals(M)
    if tol is None:
        if rtol is None:
            rtol = max(M.shape[-2:]) * float(np.finfo(s.dtype).eps)
        tol = ufuncs.multiply(asarray(rtol, s.dtype), reductions.max(s, axis=-1))
    tol = expand_dims(asarray(tol, s.dtype), -1)
    return reductions.sum(ufuncs.greater(s, tol), axis=-1).astype(np.int32)


def pinv(a, rtol=None, hermitian=False, *, rcond=None):
    a = _matrix(a, 'pinv')
    rtol = rcond if rtol is None else rtol
    m, n = a.shape[-2:]
    if rtol is None:
        rtol = 10 * max(m, n) * float(np.finfo(a.dtype).eps)
    u, s, vt = svd(a, full_matrices=False)
    cutoff = ufuncs.multiply(expand_dims(asarray(rtol, s.dtype), -1),
                             reductions.max(s, axis=-1, keepdims=True))
    keep = ufuncs.greater(s, cutoff)
    # Where a value is cut off, divide by 1 instead so its derivative stays finite.
    safe = ufuncs.where(keep, s, ufuncs._const(s, 1))
    s_inv = ufuncs.where(keep, ufuncs.reciprocal(safe), ufuncs._const(s, 0))
    return matmul(ufuncs.multiply(_H(vt), expand_dims(s_inv.astype(a.dtype), -2)), _H(u))


def lstsq(a, b, rcond=None, *, numpy_resid=False):
    """Least squares through the SVD: returns (x, residuals, rank, singular values)."""
    a, b = _same_dtype(_float(a, 'lstsq'), _float(b, 'lstsq'))
    vector = b.ndim == 1
    if vector:
        b = reshape(b, b.shape + (1,))
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f'lstsq: a must be (m, n) and b (m,) or (m, k) with the same m, got '
                         f'{a.shape} and {b.shape if not vector else b.shape[:1]}')
    m, n = a.shape
    if rcond is None:
        rcond = float(np.finfo(a.dtype).eps) * max(m, n)
    u, s, vt = svd(a, full_matrices=False)
    keep = ufuncs.greater_equal(s, ufuncs.multiply(asarray(rcond, s.dtype), s[0]))
    rank = reductions.sum(keep).astype(np.int32)
    safe = ufuncs.where(keep, s, ufuncs._const(s, 1))
    s_inv = ufuncs.where(keep, ufuncs.reciprocal(safe), ufuncs._const(s, 0))
    x = matmul(_H(vt), ufuncs.multiply(expand_dims(s_inv.astype(a.dtype), -1), matmul(_H(u), b)))
    resid = reductions.sum(ufuncs.square(ufuncs.abs(ufuncs.subtract(b, matmul(a, x)))), axis=0)
    if numpy_resid and (int(rank) < n or m <= n):
        resid = asarray(np.zeros((0,), a.dtype))
    return (x[:, 0] if vector else x), resid, rank, s


# --- norms -----------------------------------------------------------------------------------
def _vector_norm(x, ord, axis, keepdims):
    absx = ufuncs.abs(x)
    if ord is None or ord == 2:
        return ufuncs.sqrt(reductions.sum(ufuncs.multiply(x, x), axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return reductions.max(absx, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return reductions.min(absx, axis=axis, keepdims=keepdims)
    if ord == 0:
        nz = ufuncs.not_equal(x, ufuncs._const(x, 0)).astype(x.dtype)
        return reductions.sum(nz, axis=axis, keepdims=keepdims)
    if ord == 1:
        return reductions.sum(absx, axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f'norm: ord={ord!r} is a matrix norm; for a vector use None, a number, '
                         'inf or -inf')
    p = ufuncs._const(x, ord)
    s = reductions.sum(ufuncs.power(absx, p), axis=axis, keepdims=keepdims)
    return ufuncs.power(s, ufuncs.reciprocal(p))


def _matrix_norm(x, ord, axis, keepdims):
    r, c = axis
    if ord in (None, 'fro', 'f'):
        return ufuncs.sqrt(reductions.sum(ufuncs.multiply(x, x), axis=axis, keepdims=keepdims))
    absx = ufuncs.abs(x)
    # 1 / -1: largest / smallest column sum; inf / -inf: the same over rows.
    sums = {1: (r, c, reductions.max), -1: (r, c, reductions.min),
            np.inf: (c, r, reductions.max), -np.inf: (c, r, reductions.min)}
    if ord in sums:
        inner, outer, pick = sums[ord]
        out = pick(reductions.sum(absx, axis=inner, keepdims=True), axis=outer, keepdims=True)
    elif ord in (2, -2, 'nuc'):
        s = svdvals(moveaxis(x, (r, c), (-2, -1)))
        out = {2: lambda: reductions.max(s, axis=-1), -2: lambda: reductions.min(s, axis=-1),
               'nuc': lambda: reductions.sum(s, axis=-1)}[ord]()
        out = expand_dims(expand_dims(out, min(r, c)), max(r, c))
    else:
        raise ValueError(f"norm: invalid ord={ord!r} for a matrix norm; use None, 'fro', 'nuc', "
                         '1, -1, 2, -2, inf or -inf')
    return out if keepdims else reshape(out, tuple(d for i, d in enumerate(out.shape)
                                                   if i not in (r, c)))


def _abs_if_complex(x, ord, axis):
    """Norms other than the spectral and nuclear ones depend only on |x|: a complex
    input is replaced by its absolute value (real, and differentiable as in JAX); the
    spectral and nuclear norms take the complex matrix's singular values."""
    x = asarray(x)
    if not dtypes.is_complex(x.dtype):
        return x
    matrix = (axis is None and x.ndim == 2 and ord is not None) or \
        (axis is not None and np.ndim(axis) == 1 and len(axis) == 2)
    if matrix and ord in (2, -2, 'nuc'):
        return x     # the singular values of the complex matrix itself
    return ufuncs.absolute(x)


def norm(x, ord=None, axis=None, keepdims=False):
    x = _float(_abs_if_complex(x, ord, axis), 'norm')
    if axis is None:
        if ord is None:
            return _vector_norm(reshape(x, (-1,)), None, 0, False) if not keepdims else \
                ufuncs.sqrt(reductions.sum(ufuncs.multiply(x, x), keepdims=True))
        if x.ndim not in (1, 2):
            raise ValueError(f'norm: ord={ord!r} needs a 1-D or 2-D array when axis is None, '
                             f'got shape {x.shape}; pass axis=')
        axis = tuple(range(x.ndim))
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    axis = tuple(a % x.ndim if -x.ndim <= a < x.ndim else _bad_axis(a, x.ndim) for a in axis)
    if len(axis) == 1:
        return _vector_norm(x, ord, axis[0], keepdims)
    if len(axis) == 2 and axis[0] != axis[1]:
        return _matrix_norm(x, ord, axis, keepdims)
    raise ValueError(f'norm: axis must name one or two distinct axes, got {axis}')


def _bad_axis(a, ndim):
    raise ValueError(f'norm: axis {a} is out of bounds for an array of rank {ndim}')


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    x = _float(_abs_if_complex(x, None, None), 'vector_norm')
    if axis is None:
        out = _vector_norm(reshape(x, (-1,)), ord, 0, False)
        return reshape(out, (1,) * x.ndim) if keepdims else out
    return _vector_norm(x, ord, axis, keepdims)


def matrix_norm(x, /, *, keepdims=False, ord='fro'):
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def cond(x, p=None):
    x = _matrix(x, 'cond')
    if p in (None, 2, -2):
        s = svdvals(x)
        big, small = reductions.max(s, axis=-1), reductions.min(s, axis=-1)
        return ufuncs.divide(small, big) if p == -2 else ufuncs.divide(big, small)
    return ufuncs.multiply(norm(x, p, axis=(-2, -1)), norm(inv(x), p, axis=(-2, -1)))


# --- products and re-exports -------------------------------------------------------------------
def multi_dot(arrays, *, precision=None):
    arrays = [asarray(a) for a in arrays]
    if len(arrays) < 2:
        raise ValueError(f'multi_dot: expecting at least two arrays, got {len(arrays)}')
    out = arrays[0]
    for a in arrays[1:]:
        out = matmul(out, a, precision=precision)
    return out


def outer(x1, x2, /):
    x1, x2 = asarray(x1), asarray(x2)
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f'outer: inputs must be 1-D, got shapes {x1.shape} and {x2.shape}')
    return _outer(x1, x2)


def vecdot(x1, x2, /, *, axis=-1, precision=None, preferred_element_type=None):
    canonicalize_precision(precision, 'vecdot')     # elementwise: full precision always
    x1, x2 = asarray(x1), asarray(x2)
    return reductions.sum(ufuncs.multiply(x1, x2), axis=axis)


def diagonal(x, /, *, offset=0):
    return _diagonal(x, offset, -2, -1)


def trace(x, /, *, offset=0, dtype=None):
    return _trace(x, offset, -2, -1, dtype)


def cross(x1, x2, /, *, axis=-1):
    return _cross(x1, x2, axis=axis)
