"""tinyjax.scipy.linalg: the basics of jax.scipy.linalg on the decomposition primitives.
Results follow JAX's conventions (e.g. the unused triangle of a Cholesky factor is zero)."""
import numpy as np

from tinyjax import lax
from tinyjax.numpy import linalg as jla
from tinyjax.numpy import reductions, ufuncs
from tinyjax.numpy.conversion import asarray
from tinyjax.numpy.creation import eye, tril, triu
from tinyjax.numpy.conversion import broadcast_to
from tinyjax.numpy.manipulation import matrix_transpose, expand_dims
from tinyjax.numpy.products import matmul
from tinyjax.ops import decompositions as dec

det, inv = jla.det, jla.inv


def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    return jla.cholesky(a, upper=not lower)


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    return cholesky(a, lower=lower), lower


def _rhs(a, b, op):
    """b as (..., m, k) beside a (..., m, m): a vector (or stack of them) gets an axis."""
    b = jla._float(b, op)
    a, b = jla._same_dtype(a, b)
    vector = b.ndim == a.ndim - 1 or b.ndim == 1
    if vector:
        b = expand_dims(b, -1)
    if b.shape[-2] != a.shape[-1]:
        raise ValueError(f'{op}: a has shape {a.shape}, so b must have shape (..., '
                         f'{a.shape[-1]}) or (..., {a.shape[-1]}, k), got '
                         f'{b.shape[:-1] if vector else b.shape}')
    a, b = jla._broadcast_batch(a, b, op)
    return a, b, vector


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    c, lower = c_and_lower
    c = jla._square(c, 'cho_solve')
    c, b, vector = _rhs(c, b, 'cho_solve')
    # A = L L^H (lower) or U^H U (upper): two triangular solves, the conjugate-transposed
    # one on conj(c).
    cc = ufuncs.conjugate(c)
    y = dec.triangular_solve(c if lower else cc, b, left_side=True, lower=lower,
                             transpose_a=not lower)
    x = dec.triangular_solve(cc if lower else c, y, left_side=True, lower=lower,
                             transpose_a=lower)
    return x[..., 0] if vector else x


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     debug=None, check_finite=True):
    a = jla._square(a, 'solve_triangular')
    transpose = {0: False, 'N': False, 1: True, 'T': True, 2: True, 'C': True}.get(trans)
    if transpose is None:
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    a, b, vector = _rhs(a, b, 'solve_triangular')
    if trans in (2, 'C'):
        a = ufuncs.conjugate(a)     # a^H x = b is conj(a)^T x = b
    x = dec.triangular_solve(a, b, left_side=True, lower=lower, transpose_a=transpose,
                             unit_diagonal=unit_diagonal)
    return x[..., 0] if vector else x


def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, debug=False,
          check_finite=True, assume_a='gen'):
    a = jla._square(a, 'solve')
    if assume_a in ('pos', 'positive definite'):
        return cho_solve(cho_factor(a, lower=lower), b)
    if assume_a in ('sym', 'her', 'symmetric', 'hermitian'):
        a = jla._symmetrize(a)
    a, b, vector = _rhs(a, b, 'solve')
    x = jla.solve(a, b)
    return x[..., 0] if vector else x


def lu_factor(a, overwrite_a=False, check_finite=True):
    a = jla._matrix(a, 'lu_factor')
    lu, piv, _ = dec.lu(a)
    return lu, piv


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    lu, piv = lu_and_piv
    lu = jla._square(lu, 'lu_solve')
    if trans not in (0, 1, 2):
        raise ValueError(f'lu_solve: trans must be 0, 1 or 2, got {trans!r}')
    perm = dec.lu_pivots_to_permutation(asarray(piv), lu.shape[-1])
    lu, b, vector = _rhs(lu, b, 'lu_solve')
    if trans == 2:
        lu = ufuncs.conjugate(lu)   # a^H = (P^T conj(L) conj(U))^T
    perm = broadcast_to(perm, lu.shape[:-1])
    x = jla._lu_solve(lu, perm, b, trans=0 if trans == 0 else 1)
    return x[..., 0] if vector else x


def lu(a, permute_l=False, overwrite_a=False, check_finite=True):
    """(p, l, u) with a = p @ l @ u, or (p @ l, u) when permute_l."""
    a = jla._matrix(a, 'lu')
    packed, _, perm = dec.lu(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    l = ufuncs.add(tril(packed[..., :, :k], -1), eye(m, k, dtype=a.dtype))
    u = triu(packed[..., :k, :])
    # a[perm] = l u, so a = P^T l u with P[i, j] = (perm[i] == j).
    p = matrix_transpose(dec._perm_matrix(perm, a.dtype))
    return (matmul(p, l), u) if permute_l else (p, l, u)


def eigh(a, b=None, lower=True, eigvals_only=False, overwrite_a=False, overwrite_b=False,
         turbo=True, eigvals=None, type=1, check_finite=True):
    if b is not None:
        raise NotImplementedError('eigh: the generalized problem (b=...) is not supported')
    w, v = jla.eigh(a, UPLO='L' if lower else 'U')
    return w if eigvals_only else (w, v)


def qr(a, overwrite_a=False, lwork=None, mode='full', pivoting=False, check_finite=True):
    if pivoting:
        raise NotImplementedError('qr: pivoting=True is not supported')
    modes = {'full': 'complete', 'economic': 'reduced', 'r': 'r'}
    if mode not in modes:
        raise ValueError(f"qr: mode must be 'full', 'economic' or 'r', got {mode!r}")
    a = jla._matrix(a, 'qr')
    q, r = dec.qr(a, full_matrices=mode == 'full')
    return (r,) if mode == 'r' else (q, r)


def svd(a, full_matrices=True, compute_uv=True, overwrite_a=False, check_finite=True,
        lapack_driver='gesdd'):
    res = jla.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(res) if compute_uv else res


# Pade approximant of degree 13 (Higham 2005, "The scaling and squaring method for the
# matrix exponential revisited"): numerator coefficients and the norm bound theta_13.
_PADE13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
           129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
           40840800., 960960., 16380., 182., 1.)
_THETA13 = 5.371920351148152


def expm(A, *, upper_triangular=False, max_squarings=16):
    """exp(A) by scaling and squaring with a degree-13 Pade approximant.

    The squaring count depends on the data, so it runs as a fixed loop of max_squarings
    steps that keeps its value after the needed ones (traceable, differentiable). Like
    JAX, a matrix needing more than max_squarings squarings gives NaN."""
    A = jla._square(A, 'expm')
    norm1 = reductions.max(reductions.sum(ufuncs.abs(A), axis=-2), axis=-1)
    s = ufuncs.maximum(ufuncs.ceil(ufuncs.log2(ufuncs.divide(norm1, _THETA13))), 0)
    s = ufuncs.where(ufuncs.isfinite(s), s, 0)
    scale = expand_dims(expand_dims(ufuncs.exp2(s), -1), -1)
    A = ufuncs.divide(A, scale)
    b = [asarray(c, A.dtype) for c in _PADE13]
    ident = jla._eye_like(A)
    A2 = matmul(A, A)
    A4 = matmul(A2, A2)
    A6 = matmul(A4, A2)
    U = matmul(A, matmul(A6, b[13] * A6 + b[11] * A4 + b[9] * A2)
               + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * ident)
    V = matmul(A6, b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 \
        + b[2] * A2 + b[0] * ident
    R = jla.solve(V - U, V + U)
    steps = expand_dims(expand_dims(s, -1), -1)

    def square(i, r):
        return ufuncs.where(ufuncs.less(asarray(i, A.dtype), steps), matmul(r, r), r)
    R = lax.fori_loop(0, int(max_squarings), square, R)
    too_many = ufuncs.greater(steps, float(max_squarings))
    return ufuncs.where(too_many, ufuncs._const(R, np.nan), R)


__all__ = ['cho_factor', 'cho_solve', 'cholesky', 'det', 'eigh', 'expm', 'inv', 'lu',
           'lu_factor', 'lu_solve', 'qr', 'solve', 'solve_triangular', 'svd']
