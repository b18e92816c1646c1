"""Matrix decompositions: cholesky, lu, qr, eigh, svd, triangular_solve (and the integer
helper lu_pivots_to_permutation), each with its rules side by side.

Every primitive works on the last two axes and maps over any leading axes, as NumPy's
linalg does, so a batching rule only moves the vmapped axis to the front and rebinds.
Operands are float32, float64, complex64 or complex128 (the NumPy layer promotes
integers). The rules follow JAX's convention for complex autodiff: a JVP is the complex
(R-linear) perturbation formula with conjugate transposes where the decomposition has them,
and transposes pair with Re(sum(a * b)) without conjugation, so a VJP through these rules
is what JAX's gives. eigh's eigenvalues and svd's singular values are real for complex input.

Derivative rules are the standard ones from the literature (Murray 2016 for Cholesky;
the usual perturbation formulas for LU, QR, eigh and SVD) and are built only from
primitives, so they trace, transpose and batch like everything else. As in JAX,
degenerate eigenvalues / singular values make the eigenvector / singular-vector
derivatives inf or nan rather than being special-cased.
"""
import numpy as np

from tinyjax import dtypes
from tinyjax.core.ir import ShapedArray
from tinyjax.interpreters.ad import is_undefined
from tinyjax.interpreters.batching import leading_axis_rule
from tinyjax.ops import common, complex_parts, reduction, structural
from tinyjax.ops import elementwise as ew
from tinyjax.ops.dot_general import dot_general


# --- shape checks shared by every op ---------------------------------------------------
def _check_float(op, *avals):
    common.check_same_dtypes(op, avals)
    dt = avals[0].dtype
    if dt not in (dtypes.float32, dtypes.float64, dtypes.complex64, dtypes.complex128):
        raise TypeError(f'{op}: dtype {dt.name} is not supported; it takes float32, float64, '
                        f'complex64 or complex128 matrices. Convert with '
                        f'x.astype(jnp.float32), or call the tinyjax.numpy.linalg / '
                        f'tinyjax.scipy.linalg function, which promotes integer inputs.')


def _check_matrix(op, a, square=True):
    if a.ndim < 2 or (square and a.shape[-1] != a.shape[-2]):
        want = '(..., n, n) (a square matrix or a stack of them)' if square else \
            '(..., m, n) (a matrix or a stack of them)'
        raise ValueError(f'{op}: expected an array of shape {want}, got {a.str_short()}. '
                         + ('Slice or pad it to a square matrix first.' if a.ndim >= 2 else
                            'Reshape it to a matrix first.'))


def _out(shape, dtype):
    return ShapedArray(tuple(shape), dtype, False)


# --- small helpers on primitives, used by the derivative rules --------------------------
def _T(x):
    nd = common.aval_of(x).ndim
    return structural.transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _mm(a, b):
    """Matrix product over the last two axes; leading (batch) axes must match."""
    nb = common.aval_of(a).ndim - 2
    batch = tuple(range(nb))
    return dot_general(a, b, (((nb + 1,), (nb,)), (batch, batch)))


def _rows_cols(shape):
    nd = len(shape)
    return (structural.broadcasted_iota(np.int32, shape, nd - 2),
            structural.broadcasted_iota(np.int32, shape, nd - 1))


def _band(x, k, lower):
    """tril(x, k) if lower else triu(x, k), over the last two axes."""
    a = common.aval_of(x)
    rows, cols = _rows_cols(a.shape)
    diff = ew.sub(cols, rows)
    keep = ew.le(diff, common.scalar(k, np.int32)) if lower else \
        ew.ge(diff, common.scalar(k, np.int32))
    return ew.select_n(keep, common.zeros(a.strip_weak()), x)


def _eye(shape, dtype):
    rows, cols = _rows_cols(shape)
    return ew.convert(ew.eq(rows, cols), dtype)


def _row(v, shape):
    """v of shape (..., n) spread as v[..., None, :] to `shape` (..., m, n)."""
    nd = len(shape)
    return structural.broadcast_in_dim(v, tuple(shape), tuple(range(nd - 2)) + (nd - 1,))


def _col(v, shape):
    """v of shape (..., m) spread as v[..., :, None] to `shape` (..., m, n)."""
    nd = len(shape)
    return structural.broadcast_in_dim(v, tuple(shape), tuple(range(nd - 2)) + (nd - 2,))


def _diag(x):
    a = common.aval_of(x)
    return reduction.reduce_sum(ew.mul(x, _eye(a.shape, a.dtype)), (a.ndim - 1,))


def _conj(x):
    return complex_parts.conj(x) if dtypes.is_complex(common.aval_of(x).dtype) else x


def _H(x):
    """Conjugate transpose over the last two axes (the plain transpose for real x)."""
    return _conj(_T(x))


def _real(x):
    return complex_parts.real(x) if dtypes.is_complex(common.aval_of(x).dtype) else x


def _as(x, dtype):
    """A real value x in dtype (complex dtypes get a zero imaginary part)."""
    return x if common.aval_of(x).dtype == dtype else ew.convert(x, dtype)


def _sym_from_lower(t):
    """The symmetric (Hermitian, for complex) matrix a routine reading only the lower
    triangle sees."""
    return ew.add(_band(t, 0, True), _conj(_T(_band(t, -1, True))))


def _per_matrix(xp, fn, a, n_out):
    """Apply fn to each matrix of a stack, for backends whose routine is not batched."""
    batch = a.shape[:-2]
    flat = a.reshape((-1,) + a.shape[-2:])
    res = [fn(m) for m in flat]
    outs = [xp.stack([r[i] for r in res]) if res else None for i in range(n_out)]
    return [o.reshape(batch + o.shape[1:]) for o in outs]


def _call_batched(xp, fn, a, n_out):
    """fn on a stack; CuPy lacks batched versions of some routines, so loop there."""
    if a.ndim == 2 or xp is np:
        out = fn(a)
        return list(out) if n_out > 1 else [out]
    try:
        out = fn(a)
        return list(out) if n_out > 1 else [out]
    except Exception:
        return _per_matrix(xp, lambda m: (fn(m),) if n_out == 1 else fn(m), a, n_out)


# --- cholesky --------------------------------------------------------------------------
def _chol_abstract(a):
    _check_float('cholesky', a)
    _check_matrix('cholesky', a)
    return _out(a.shape, a.dtype)


def _chol_impl(xp, a):
    try:
        return xp.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        # JAX returns NaNs for a matrix that is not positive definite instead of raising;
        # NumPy raises for the whole stack, so redo it matrix by matrix.
        def one(m):
            try:
                return (np.linalg.cholesky(m),)
            except np.linalg.LinAlgError:
                return (np.tril(np.full_like(m, np.nan)),)
        return _per_matrix(xp, one, a, 1)[0]


def _chol_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    L = cholesky_p.bind(a)
    if da is None:
        return L, None
    # Murray (2016): dL = L Phi(L^-1 dA L^-H), Phi = lower triangle with half the diagonal.
    # The routine reads only the lower triangle of a, so the tangent is symmetrised from it.
    da = _sym_from_lower(da)
    tmp = triangular_solve(L, da, left_side=True, lower=True)
    x = triangular_solve(_conj(L), tmp, left_side=False, lower=True, transpose_a=True)
    aval = common.aval_of(x)
    half = ew.mul(_eye(aval.shape, aval.dtype), common.scalar(0.5, aval.dtype))
    phi = ew.sub(_band(x, 0, True), ew.mul(x, half))
    return L, _mm(L, phi)


cholesky_p = common.define('cholesky', _chol_abstract, _chol_impl, _chol_jvp)
cholesky_p.batch = leading_axis_rule(cholesky_p)


def cholesky(a):
    """Lower Cholesky factor; reads only the lower triangle of a (NaNs if not SPD)."""
    return cholesky_p.bind(a)


# --- triangular_solve ------------------------------------------------------------------
def _tri_abstract(a, b, left_side, lower, transpose_a, unit_diagonal):
    op = 'triangular_solve'
    _check_float(op, a, b)
    _check_matrix(op, a)
    m = a.shape[-1]
    if b.ndim != a.ndim or b.shape[:-2] != a.shape[:-2] or \
            (b.shape[-2] if left_side else b.shape[-1]) != m:
        want = f'(..., {m}, k)' if left_side else f'(..., k, {m})'
        raise ValueError(f'{op}: a has shape {a.shape} so b must have shape {want} with the same '
                         f'leading axes (left_side={left_side}), got {b.shape}. Broadcast the '
                         f'leading axes first, and add a trailing axis to a vector.')
    return _out(b.shape, b.dtype)


def _substitute(xp, a, b):
    """Forward substitution for lower-triangular a (no pivoting: a zero pivot gives inf/nan
    as in JAX, where LAPACK's solve would raise)."""
    x = xp.zeros_like(b)
    with np.errstate(divide='ignore', invalid='ignore'):
        for i in range(a.shape[-1]):
            s = b[..., i, :] - xp.einsum('...j,...jn->...n', a[..., i, :], x)
            x[..., i, :] = s / a[..., i, i][..., None]
    return x


def _tri_impl(xp, a, b, left_side, lower, transpose_a, unit_diagonal):
    # Only the named triangle of a is read; the other one may hold anything (an LU pack).
    a = xp.tril(a) if lower else xp.triu(a)
    if unit_diagonal:
        eye = xp.eye(a.shape[-1], dtype=a.dtype)
        a = a * (1 - eye) + eye
    if transpose_a:
        a = xp.swapaxes(a, -1, -2)
    if not left_side:
        # x op(a) = b  <=>  op(a)^T x^T = b^T
        a, b = xp.swapaxes(a, -1, -2), xp.swapaxes(b, -1, -2)
    try:
        x = xp.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        # Singular (zero on the diagonal): substitute so the result is inf/nan like JAX.
        is_lower = lower != (transpose_a != (not left_side))
        if is_lower:
            x = _substitute(xp, a, b)
        else:
            x = xp.flip(_substitute(xp, xp.flip(a, (-2, -1)), xp.flip(b, -2)), -2)
    return xp.swapaxes(x, -1, -2) if not left_side else x


def _tri_jvp(primals, tangents, **params):
    a, b = primals
    da, db = tangents
    x = triangular_solve_p.bind(a, b, **params)
    parts = []
    if db is not None:
        parts.append(triangular_solve_p.bind(a, db, **params))
    if da is not None:
        # op(a) x = b  =>  op(a) dx = -op(da) x  (left; mirrored for the right side).
        lower = params['lower']
        da = _band(da, (-1 if lower else 1) if params['unit_diagonal'] else 0, lower)
        if params['transpose_a']:
            da = _T(da)
        rhs = _mm(da, x) if params['left_side'] else _mm(x, da)
        parts.append(ew.neg(triangular_solve_p.bind(a, rhs, **params)))
    if not parts:
        return x, None
    return x, parts[0] if len(parts) == 1 else ew.add(*parts)


def _tri_transpose(ct, a, b, left_side, lower, transpose_a, unit_diagonal):
    if is_undefined(a):
        raise TypeError('triangular_solve is linear only in b; it cannot be transposed in a')
    if ct is None:
        return [None, None]
    # x = op(a)^-1 b is linear in b with adjoint ct -> op(a)^-T ct (either side).
    ct_b = triangular_solve_p.bind(a, ct, left_side=left_side, lower=lower,
                                   transpose_a=not transpose_a, unit_diagonal=unit_diagonal)
    return [None, ct_b]


def _tri_batch(args, dims, **params):
    size = common.batch_size(args, dims)
    a, b = [common.move_batch_axis(x, d, 0, size) for x, d in zip(args, dims)]
    return triangular_solve_p.bind(a, b, **params), 0


triangular_solve_p = common.define('triangular_solve', _tri_abstract, _tri_impl, _tri_jvp,
                                   _tri_transpose, _tri_batch)


def triangular_solve(a, b, left_side=False, lower=False, transpose_a=False,
                     unit_diagonal=False):
    """Solve op(a) x = b (left_side) or x op(a) = b for triangular a (lax's conventions)."""
    return triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                   transpose_a=bool(transpose_a),
                                   unit_diagonal=bool(unit_diagonal))


# --- lu --------------------------------------------------------------------------------
def _lu_abstract(a):
    _check_float('lu', a)
    _check_matrix('lu', a, square=False)
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    return [_out(a.shape, a.dtype), _out(batch + (min(m, n),), dtypes.int32),
            _out(batch + (m,), dtypes.int32)]


def _lu_impl(xp, a):
    # Partial pivoting column by column, each step vectorised over the whole stack (NumPy
    # has no LU; this matches LAPACK getrf's choice of pivot: the first largest |entry|).
    batch, (m, n) = a.shape[:-2], a.shape[-2:]
    k = min(m, n)
    lu = a.reshape((-1, m, n)).copy()
    nb = lu.shape[0]
    idx = xp.arange(nb)
    piv = xp.zeros((nb, k), np.int32)
    perm = xp.tile(xp.arange(m, dtype=np.int32), (nb, 1))
    # getrf picks the pivot by |re| + |im| for complex matrices (LAPACK's cabs1).
    size = (lambda c: xp.abs(c.real) + xp.abs(c.imag)) if dtypes.is_complex(a.dtype) else xp.abs
    with np.errstate(divide='ignore', invalid='ignore'):
        for j in range(k):
            p = j + xp.argmax(size(lu[:, j:, j]), axis=1)
            piv[:, j] = p
            row_j, row_p = lu[idx, j].copy(), lu[idx, p].copy()
            lu[idx, j], lu[idx, p] = row_p, row_j
            pj, pp = perm[idx, j].copy(), perm[idx, p].copy()
            perm[idx, j], perm[idx, p] = pp, pj
            d = lu[:, j, j][:, None]
            col = lu[:, j + 1:, j]
            # A zero pivot means the column below is zero too: leave it (LAPACK does).
            col = xp.where(d != 0, col / xp.where(d != 0, d, 1), col)
            lu[:, j + 1:, j] = col
            lu[:, j + 1:, j + 1:] -= col[:, :, None] * lu[:, j:j + 1, j + 1:]
    return [lu.reshape(a.shape), piv.reshape(batch + (k,)), perm.reshape(batch + (m,))]


def _perm_matrix(perm, dtype):
    """P with P[i, j] = (perm[i] == j), so P @ a == a[perm]."""
    shape = common.aval_of(perm).shape
    full = shape + (shape[-1],)
    p = _col(perm, full)
    cols = structural.broadcasted_iota(np.int32, full, len(full) - 1)
    return ew.convert(ew.eq(p, cols), dtype)


def _lu_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    lu, piv, perm = lu_p.bind(a)
    if da is None:
        return [lu, piv, perm], [None, None, None]
    aval = common.aval_of(a)
    if aval.shape[-1] != aval.shape[-2]:
        raise NotImplementedError(f'lu: derivatives are implemented for square matrices only, '
                                  f'got {aval.str_short()}')
    # a[perm] = L U  =>  L^-1 da[perm] U^-1 = L^-1 dL + dU U^-1 (strictly lower + upper).
    pda = _mm(_perm_matrix(perm, aval.dtype), da)
    y = triangular_solve(lu, pda, left_side=True, lower=True, unit_diagonal=True)
    x = triangular_solve(lu, y, left_side=False, lower=False)
    l_unit = ew.add(_band(lu, -1, True), _eye(aval.shape, aval.dtype))
    dl = _mm(l_unit, _band(x, -1, True))
    du = _mm(_band(x, 0, False), _band(lu, 0, False))
    return [lu, piv, perm], [ew.add(dl, du), None, None]


lu_p = common.define('lu', _lu_abstract, _lu_impl, _lu_jvp, multiple_results=True)
lu_p.batch = leading_axis_rule(lu_p)


def lu(a):
    """(lu, pivots, permutation): a[permutation] = L @ U with L unit lower, packed in lu."""
    return lu_p.bind(a)


def _p2p_abstract(pivots, permutation_size):
    if not dtypes.is_int(pivots.dtype) or pivots.ndim < 1:
        raise TypeError(f'lu_pivots_to_permutation: pivots must be an integer array of shape '
                        f'(..., k), got {pivots.str_short()}')
    if pivots.shape[-1] > permutation_size:
        raise ValueError(f'lu_pivots_to_permutation: {pivots.shape[-1]} pivots do not fit a '
                         f'permutation of size {permutation_size}')
    return _out(pivots.shape[:-1] + (permutation_size,), dtypes.int32)


def _p2p_impl(xp, pivots, permutation_size):
    batch, k = pivots.shape[:-1], pivots.shape[-1]
    piv = pivots.reshape((-1, k))
    idx = xp.arange(piv.shape[0])
    perm = xp.tile(xp.arange(permutation_size, dtype=np.int32), (piv.shape[0], 1))
    for j in range(k):   # apply the row swaps in order, as getrs does
        p = piv[:, j]
        pj, pp = perm[idx, j].copy(), perm[idx, p].copy()
        perm[idx, j], perm[idx, p] = pp, pj
    return perm.reshape(batch + (permutation_size,))


# Integer in, integer out: the JVP only recomputes the value (there is no tangent).
lu_pivots_to_permutation_p = common.define(
    'lu_pivots_to_permutation', _p2p_abstract, _p2p_impl,
    jvp=lambda primals, tangents, **p: (lu_pivots_to_permutation_p.bind(*primals, **p), None))
lu_pivots_to_permutation_p.batch = leading_axis_rule(lu_pivots_to_permutation_p)


def lu_pivots_to_permutation(pivots, permutation_size):
    return lu_pivots_to_permutation_p.bind(pivots, permutation_size=int(permutation_size))


# --- qr --------------------------------------------------------------------------------
def _qr_abstract(a, full_matrices):
    _check_float('qr', a)
    _check_matrix('qr', a, square=False)
    m, n = a.shape[-2:]
    k = m if full_matrices else min(m, n)
    b = a.shape[:-2]
    return [_out(b + (m, k), a.dtype), _out(b + (k, n), a.dtype)]


def _qr_impl(xp, a, full_matrices):
    mode = 'complete' if full_matrices else 'reduced'
    return _call_batched(xp, lambda m: xp.linalg.qr(m, mode=mode), a, 2)


def _qr_jvp(primals, tangents, full_matrices):
    (a,), (da,) = primals, tangents
    q, r = qr_p.bind(a, full_matrices=full_matrices)
    if da is None:
        return [q, r], [None, None]
    m, n = common.aval_of(a).shape[-2:]
    if m < n or (full_matrices and m > n):
        raise NotImplementedError(f'qr: derivatives need m >= n and reduced mode (or a square '
                                  f'matrix), got shape {common.aval_of(a).shape} with '
                                  f'full_matrices={full_matrices}')
    # With C = Q^H dA R^-1: Q^H dQ = Omega (skew-Hermitian, from C's strict lower part
    # and, for complex input, the imaginary part of C's diagonal, which makes R's
    # diagonal stay real), and dR R^-1 = C - Omega (upper triangular).
    da_rinv = triangular_solve(r, da, left_side=False, lower=False)
    c = _mm(_H(q), da_rinv)
    low = _band(c, -1, True)
    omega = ew.sub(low, _H(low))
    if dtypes.is_complex(common.aval_of(c).dtype):
        aval = common.aval_of(c)
        imag_diag = ew.sub(c, _as(_real(c), aval.dtype))
        omega = ew.add(omega, ew.mul(_eye(aval.shape, aval.dtype), imag_diag))
    dq = ew.add(_mm(q, ew.sub(omega, c)), da_rinv)
    dr = _mm(ew.sub(c, omega), r)
    return [q, r], [dq, dr]


qr_p = common.define('qr', _qr_abstract, _qr_impl, _qr_jvp, multiple_results=True)
qr_p.batch = leading_axis_rule(qr_p)


def qr(a, full_matrices=True):
    return qr_p.bind(a, full_matrices=bool(full_matrices))


# --- eigh ------------------------------------------------------------------------------
def _eigh_abstract(a, lower):
    _check_float('eigh', a)
    _check_matrix('eigh', a)
    return [_out(a.shape, a.dtype), _out(a.shape[:-1], complex_parts.real_dtype(a.dtype))]


def _eigh_impl(xp, a, lower):
    w, v = _call_batched(xp, lambda m: xp.linalg.eigh(m, UPLO='L' if lower else 'U'), a, 2)
    return [v, w]   # ascending eigenvalues, as LAPACK's syevd returns them


def _eigh_jvp(primals, tangents, lower):
    (a,), (da,) = primals, tangents
    v, w = eigh_p.bind(a, lower=lower)
    if da is None:
        return [v, w], [None, None]
    da = _sym_from_lower(da) if lower else _T(_sym_from_lower(_T(da)))
    # dw = Re diag(V^H dA V); dV = V (F o V^H dA V) with F_ij = 1 / (w_j - w_i) off the
    # diagonal: infinite for repeated eigenvalues, as in JAX.
    vdv = _mm(_H(v), _mm(da, v))
    shape, dt = common.aval_of(v).shape, common.aval_of(v).dtype
    eye = _eye(shape, dt)
    wc = _as(w, dt)
    gap = ew.add(ew.sub(_row(wc, shape), _col(wc, shape)), eye)
    f = ew.sub(ew.div(common.full(shape, 1, dt), gap), eye)
    return [v, w], [_mm(v, ew.mul(f, vdv)), _diag(_real(vdv))]


eigh_p = common.define('eigh', _eigh_abstract, _eigh_impl, _eigh_jvp, multiple_results=True)
eigh_p.batch = leading_axis_rule(eigh_p)


def eigh(a, lower=True):
    """(eigenvectors, eigenvalues ascending); reads one triangle of a."""
    return eigh_p.bind(a, lower=bool(lower))


# --- svd -------------------------------------------------------------------------------
def _svd_abstract(a, full_matrices, compute_uv):
    _check_float('svd', a)
    _check_matrix('svd', a, square=False)
    m, n = a.shape[-2:]
    k = min(m, n)
    b = a.shape[:-2]
    s = _out(b + (k,), complex_parts.real_dtype(a.dtype))
    if not compute_uv:
        return [s]
    ku, kv = (m, n) if full_matrices else (k, k)
    return [s, _out(b + (m, ku), a.dtype), _out(b + (kv, n), a.dtype)]


def _svd_impl(xp, a, full_matrices, compute_uv):
    if not compute_uv:
        return _call_batched(xp, lambda m: xp.linalg.svd(m, compute_uv=False), a, 1)
    u, s, vt = _call_batched(xp, lambda m: xp.linalg.svd(m, full_matrices=full_matrices), a, 3)
    return [s, u, vt]


def _svd_jvp(primals, tangents, full_matrices, compute_uv):
    (a,), (da,) = primals, tangents
    outs = svd_p.bind(a, full_matrices=full_matrices, compute_uv=compute_uv)
    if da is None:
        return outs, [None] * len(outs)
    m, n = common.aval_of(a).shape[-2:]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError('svd: derivatives of U and Vt with full_matrices=True are '
                                  f'not implemented for a non-square matrix (shape {(m, n)}); '
                                  'use full_matrices=False')
    s, u, vt = svd_p.bind(a, full_matrices=False, compute_uv=True)
    v = _H(vt)
    dp = _mm(_H(u), _mm(da, v))            # U^H dA V, k x k
    ds = _diag(_real(dp))
    if not compute_uv:
        return outs, [ds]
    kshape, dt = common.aval_of(dp).shape, common.aval_of(dp).dtype
    eye = _eye(kshape, dt)
    sc = _as(s, dt)
    sj, si = _row(sc, kshape), _col(sc, kshape)
    # F_ij = 1 / (s_j^2 - s_i^2) off the diagonal (infinite for repeated values, as JAX).
    gap = ew.add(ew.mul(ew.sub(sj, si), ew.add(sj, si)), eye)
    f = ew.sub(ew.div(common.full(kshape, 1, dt), gap), eye)
    dss, sds = ew.mul(dp, sj), ew.mul(si, dp)
    du = _mm(u, ew.mul(f, ew.add(dss, _H(dss))))
    dv = _mm(v, ew.mul(f, ew.add(sds, _H(sds))))
    if dtypes.is_complex(dt):
        # The phase of each pair (u_i, v_i) is free; like JAX, U takes the imaginary part
        # of dp's diagonal over s (zero where s is zero) and V none of it.
        s_aval = common.aval_of(s).strip_weak()
        zeros, ones = common.zeros(s_aval), common.full(s_aval.shape, 1, s_aval.dtype)
        is_zero = ew.eq(s, zeros)
        s_inv = _as(ew.select_n(is_zero, ew.div(ones, ew.select_n(is_zero, s, ones)), zeros), dt)
        half = common.scalar(0.5, dt)
        skew = ew.mul(ew.mul(ew.sub(dp, _H(dp)), half), ew.mul(eye, _row(s_inv, kshape)))
        du = ew.add(du, _mm(u, skew))
    # A tall (wide) matrix: U (V) also moves out of its span, scaled by 1/s.
    if m > n:
        dav = _mm(da, v)
        proj = ew.sub(dav, _mm(u, _mm(_H(u), dav)))
        du = ew.add(du, ew.div(proj, _row(sc, common.aval_of(proj).shape)))
    if n > m:
        dau = _mm(_H(da), u)
        proj = ew.sub(dau, _mm(v, _mm(_H(v), dau)))
        dv = ew.add(dv, ew.div(proj, _row(sc, common.aval_of(proj).shape)))
    return outs, [ds, du, _H(dv)]


svd_p = common.define('svd', _svd_abstract, _svd_impl, _svd_jvp, multiple_results=True)
svd_p.batch = leading_axis_rule(svd_p)


def svd(a, full_matrices=True, compute_uv=True):
    """[s, u, vt] (s descending), or [s] when compute_uv is False."""
    return svd_p.bind(a, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
