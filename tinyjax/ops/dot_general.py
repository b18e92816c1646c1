"""dot_general: contraction with batch dimensions (cuBLAS on the GPU, BLAS on the CPU)."""
import math

import numpy as np

from tinyjax import dtypes
from tinyjax.backends import blas
from tinyjax.compiler.lowering import Gemm
from tinyjax.compiler.passes import producer
from tinyjax.core.ir import Eqn, Literal, ShapedArray
from tinyjax.interpreters.ad import is_undefined
from tinyjax.ops import common, gemm, layout, structural
from tinyjax.ops import elementwise as ew
from tinyjax.ops.precision import allows_tf32, canonicalize_precision, cublas_float32_math


def _free(ndim, *dim_lists):
    used = set(d for ds in dim_lists for d in ds)
    return [d for d in range(ndim) if d not in used]


def _dot_abstract(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None,
                  sum_split_contraction=None):
    (lc, rc), (lb, rb) = dimension_numbers
    name = 'dot_general'
    if lhs.dtype != rhs.dtype and preferred_element_type is None:
        raise TypeError(f'{name} requires operands of the same dtype, got {lhs.str_short()} '
                        f'and {rhs.str_short()}; convert one, or use jnp.dot/jnp.matmul, '
                        'which promote types.')
    for dims, a, side in ((lc, lhs, 'lhs'), (lb, lhs, 'lhs'), (rc, rhs, 'rhs'), (rb, rhs, 'rhs')):
        if any(not 0 <= d < a.ndim for d in dims):
            raise TypeError(f'{name}: dimension numbers {dimension_numbers} out of range for '
                            f'{side} of shape {a.shape}')
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise TypeError(f'{name}: contracting/batch dimension lists must pair up, got '
                        f'{dimension_numbers}')
    for l, r in list(zip(lc, rc)) + list(zip(lb, rb)):
        if lhs.shape[l] != rhs.shape[r]:
            raise TypeError(f'{name}: incompatible shapes {lhs.shape} and {rhs.shape}: '
                            f'lhs axis {l} has size {lhs.shape[l]} but rhs axis {r} has size '
                            f'{rhs.shape[r]} (dimension_numbers={dimension_numbers})')
    shape = ([lhs.shape[d] for d in lb] + [lhs.shape[d] for d in _free(lhs.ndim, lc, lb)]
             + [rhs.shape[d] for d in _free(rhs.ndim, rc, rb)])
    dtype = preferred_element_type or lhs.dtype
    return ShapedArray(shape, dtype, lhs.weak_type and rhs.weak_type)


def _dot_prepare(xp, lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None,
                 sum_split_contraction=None):
    """dot_general for operands of fixed avals `lhs` and `rhs`: a function of the two
    buffers, with the transposes, reshapes and dtypes worked out once (compiled programs
    call it on every run; the eager rule below builds it per call)."""
    if xp is not np:
        g = gemm.plan(lhs, rhs, dimension_numbers, preferred_element_type)
        if g is not None:
            return gemm.gemm_call(xp, g, lhs.dtype, allows_tf32(precision, lhs.dtype, rhs.dtype))
    (lc, rc), (lb, rb) = dimension_numbers
    lf, rf = _free(lhs.ndim, lc, lb), _free(rhs.ndim, rc, rb)
    out_dtype = np.dtype(preferred_element_type or lhs.dtype)
    compute = out_dtype
    if out_dtype in (dtypes.float16, dtypes.bfloat16):
        compute = np.dtype(np.float32) if xp is np else out_dtype
    if dtypes.is_bool(out_dtype):
        compute = np.dtype(np.int32)
    size = lambda a, ds: math.prod(a.shape[d] for d in ds)
    nb = size(lhs, lb)
    l_perm, r_perm = list(lb) + lf + list(lc), list(rb) + list(rc) + rf
    l_perm = None if l_perm == list(range(lhs.ndim)) else l_perm
    r_perm = None if r_perm == list(range(rhs.ndim)) else r_perm
    l3 = (nb, size(lhs, lf), size(lhs, lc))
    r3 = (nb, size(rhs, rc), size(rhs, rf))
    shape = tuple([lhs.shape[d] for d in lb] + [lhs.shape[d] for d in lf]
                  + [rhs.shape[d] for d in rf])
    casts = (lhs.dtype != compute, rhs.dtype != compute, compute != out_dtype)
    outer = l3[2] == 1    # per-example gradients: BLAS gains nothing with K = 1
    tf32 = None
    if xp is not np and compute in (np.float32, np.complex64):
        tf32 = allows_tf32(precision, lhs.dtype, rhs.dtype)
    matmul = xp.matmul if xp is not np else blas.host_matmul(2 * nb * l3[1] * l3[2] * r3[2])

    def run(a, b):
        if l_perm is not None:
            a = a.transpose(l_perm)
        if r_perm is not None:
            b = b.transpose(r_perm)
        if casts[0]:
            a = a.astype(compute)
        if casts[1]:
            b = b.astype(compute)
        a, b = a.reshape(l3), b.reshape(r3)
        if outer:
            with np.errstate(all='ignore'):
                out = a * b
        elif tf32 is None:
            with np.errstate(all='ignore'):     # inf/nan operands: silent, as in JAX
                out = matmul(a, b)      # NumPy: every precision is full precision, as in JAX
        else:
            with cublas_float32_math(tf32):
                out = matmul(a, b)
        out = out.reshape(shape)
        return out.astype(out_dtype) if casts[2] else out
    return run


def _dot_impl(xp, lhs, rhs, **params):
    return _dot_prepare(xp, lhs, rhs, **params)(lhs, rhs)


_dot_jvp = common.bilinear_jvp(lambda: dot_general_p)


def _transpose_side(ct, other, self_aval, self_c, self_b, other_c, other_b, ct_self_free,
                    ct_other_free, params):
    """Cotangent of one operand: contract ct with the other operand over the other's free dims."""
    nb = len(self_b)
    other_free = _free(common.aval_of(other).ndim, other_c, other_b)
    self_free = _free(self_aval.ndim, self_c, self_b)
    # The product's axes are: batch, then ct's kept axes (this operand's free dims) and the
    # other's kept axes (its contracting dims, matching this operand's contracting dims),
    # in operand order. Either order works; take the one needing no transpose if any.
    order_c = sorted(range(len(other_c)), key=lambda j: other_c[j])
    place = {}
    for ct_first in (True, False):
        src = [0] * self_aval.ndim
        for i, d in enumerate(self_b):
            src[d] = i
        free_at = nb if ct_first else nb + len(other_c)
        contract_at = nb + len(self_free) if ct_first else nb
        for k, d in enumerate(self_free):
            src[d] = free_at + k
        for rank, j in enumerate(order_c):
            src[self_c[j]] = contract_at + rank
        place[ct_first] = tuple(src)
    ct_first = place[True] == tuple(range(self_aval.ndim)) or \
        place[False] != tuple(range(self_aval.ndim))
    ct_dims = (tuple(ct_other_free), tuple(range(nb)))
    other_dims = (tuple(other_free), tuple(other_b))
    if ct_first:
        dn = ((ct_dims[0], other_dims[0]), (ct_dims[1], other_dims[1]))
        res = dot_general_p.bind(ct, other, dimension_numbers=dn, precision=params['precision'],
                                 preferred_element_type=None, sum_split_contraction=True)
    else:
        dn = ((other_dims[0], ct_dims[0]), (other_dims[1], ct_dims[1]))
        res = dot_general_p.bind(other, ct, dimension_numbers=dn, precision=params['precision'],
                                 preferred_element_type=None, sum_split_contraction=True)
    out = structural.transpose(res, place[ct_first])
    return ew.convert(out, self_aval.dtype)


def _dot_transpose(ct, lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None,
                   sum_split_contraction=None):
    # A cotangent's product may contract a dimension both operands split over a mesh (the
    # batch, in a data-parallel step): it is summed over those axes and keeps the layout of
    # its free dimensions, which is the primal operand's (JAX passes that sharding).
    if ct is None:
        return [None, None]
    (lc, rc), (lb, rb) = dimension_numbers
    nb = len(lb)
    la, ra = common.aval_of(lhs), common.aval_of(rhs)
    nlf = len(_free(la.ndim, lc, lb))
    nrf = len(_free(ra.ndim, rc, rb))
    ct_l = list(range(nb, nb + nlf))
    ct_r = list(range(nb + nlf, nb + nlf + nrf))
    params = dict(precision=precision)
    ctype = common.aval_of(ct).dtype
    if is_undefined(lhs):
        r = ew.convert(rhs, ctype)
        return [_transpose_side(ct, r, la, lc, lb, rc, rb, ct_l, ct_r, params), None]
    l = ew.convert(lhs, ctype)
    return [None, _transpose_side(ct, l, ra, rc, rb, lc, lb, ct_r, ct_l, params)]


def _dot_batch(args, dims, dimension_numbers, precision=None, preferred_element_type=None,
               sum_split_contraction=None):
    lhs, rhs = args
    dl, dr = dims
    (lc, rc), (lb, rb) = dimension_numbers
    sh = lambda ds: tuple(d + 1 for d in ds)
    kw = dict(precision=precision, preferred_element_type=preferred_element_type,
              sum_split_contraction=sum_split_contraction)
    if dl is not None and dr is not None:
        lhs, rhs = common.move_batch_axis(lhs, dl, 0), common.move_batch_axis(rhs, dr, 0)
        dn = ((sh(lc), sh(rc)), ((0,) + sh(lb), (0,) + sh(rb)))
        return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **kw), 0
    if dl is not None:
        lhs = common.move_batch_axis(lhs, dl, 0)
        dn = ((sh(lc), rc), (sh(lb), rb))
        return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **kw), len(lb)
    rhs = common.move_batch_axis(rhs, dr, 0)
    dn = ((lc, sh(rc)), (lb, sh(rb)))
    nlf = len(_free(common.aval_of(lhs).ndim, lc, lb))
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **kw), len(lb) + nlf


dot_general_p = common.define('dot_general', _dot_abstract, _dot_impl, _dot_jvp,
                              _dot_transpose, _dot_batch)
# sum_split_contraction (True or None): under a mesh, a dimension both operands split may
# be contracted, the partial products then summed over its mesh axes (transpose rules, and
# out_sharding= in the user API, which lays the sum out with a sharding constraint). On an
# Explicit mesh, without it, that is JAX's "ambiguous output sharding" error.
dot_general_p.quiet_params = ('precision', 'preferred_element_type', 'sum_split_contraction')
dot_general_p.prepare = _dot_prepare
dot_general_p.lowering = Gemm()


def _simplify_dot(out, ins, params, defs):
    """A transposed operand (`x @ w.T`, `q @ k.swapaxes(-1, -2)`) read in place: its
    permutation goes into the dimension numbers, where BLAS and cuBLAS take it as a
    transpose flag, and the transpose kernel goes (1 MB of float32 512x512 copied through
    the cache for nothing). Only where the operand's free axes keep their order, since
    they give the output's."""
    (lc, rc), (lb, rb) = params['dimension_numbers']
    dims, new_ins = [[lc, lb], [rc, rb]], list(ins)
    for side in (0, 1):
        d = producer(ins[side], defs)
        if d is None or d.prim is not structural.transpose_p or isinstance(d.inputs[0], Literal):
            continue
        perm = d.params['permutation']
        c, b = dims[side]
        free = [perm[i] for i in _free(len(perm), c, b)]
        if free != sorted(free):
            continue
        dims[side] = [tuple(perm[i] for i in c), tuple(perm[i] for i in b)]
        new_ins[side] = d.inputs[0]
    if new_ins == list(ins):
        return None
    (lc, lb), (rc, rb) = dims
    return Eqn(dot_general_p, new_ins, dict(params, dimension_numbers=((lc, rc), (lb, rb))),
               [out])


dot_general_p.simplify = _simplify_dot


def contract(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None,
             sum_split=False):
    """dot_general_p bound on normalised arguments; `sum_split`: the caller lays the
    result out itself (out_sharding), so contracting split dimensions is allowed."""
    precision = canonicalize_precision(precision)
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((tuple(int(d) for d in lc), tuple(int(d) for d in rc)),
          (tuple(int(d) for d in lb), tuple(int(d) for d in rb)))
    pet = None if preferred_element_type is None else np.dtype(preferred_element_type)
    flag = dict(sum_split_contraction=True) if sum_split else {}
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, precision=precision,
                              preferred_element_type=pet, **flag)


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None,
                out_sharding=None):
    """lax.dot_general; out_sharding (a NamedSharding, or a PartitionSpec on the current
    mesh) lays the product out over the mesh, summing partial products where needed."""
    out = contract(lhs, rhs, dimension_numbers, precision, preferred_element_type,
                   sum_split=out_sharding is not None)
    return layout.laid_out(out, out_sharding)
