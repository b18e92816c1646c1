"""conv_general_dilated: N-d convolution with strides, padding, lhs/rhs dilation, feature
groups and batch groups (JAX's semantics).

The implementation is im2col: the operand is padded and dilated once, a strided view
gathers every window (one copy), and one batched matmul per group contracts it with the
kernel (BLAS on the CPU, cuBLAS through CuPy on the GPU). Derivatives are convolutions
themselves (the transpose rules below), so grad of grad works.

Layouts: a spec is the tuple of axis positions of (batch, feature, spatial...) for lhs
and out, (out feature, in feature, spatial...) for rhs. "Canonical" below means the
array transposed to that order (NC..., OI...).
"""
import collections
import math

import numpy as np

from tinyjax import dtypes
from tinyjax.backends import blas
from tinyjax.core.ir import ShapedArray
from tinyjax.interpreters.ad import is_undefined
from tinyjax.ops import common, structural
from tinyjax.ops import elementwise as ew
from tinyjax.ops.precision import allows_tf32, cublas_float32_math

ConvDimensionNumbers = collections.namedtuple('ConvDimensionNumbers',
                                              ['lhs_spec', 'rhs_spec', 'out_spec'])

_NAME = 'conv_general_dilated'


def _dilate(n, d):
    return 0 if n == 0 else (n - 1) * d + 1


def _out_size(n, k, stride, lhs_dil, rhs_dil, lo, hi):
    span = _dilate(n, lhs_dil) + lo + hi - _dilate(k, rhs_dil)
    return span // stride + 1 if span >= 0 else 0


def _conv_abstract(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count,
                   precision=None, preferred_element_type=None):
    shapes = f'lhs {lhs.str_short()} and rhs {rhs.str_short()}'
    if lhs.dtype != rhs.dtype:
        raise TypeError(f'lax.{_NAME} requires arguments to have the same dtypes, got '
                        f'{shapes}; convert one (x.astype(...)) first.')
    ls, rs, os_ = dimension_numbers
    nsp = lhs.ndim - 2
    for name, v in (('window_strides', window_strides), ('padding', padding),
                    ('lhs_dilation', lhs_dilation), ('rhs_dilation', rhs_dilation)):
        if len(v) != nsp:
            raise ValueError(f'{_NAME}: {name}={v} must have one entry per spatial dimension '
                             f'({nsp} for {shapes})')
    for name, v in (('window_strides', window_strides), ('lhs_dilation', lhs_dilation),
                    ('rhs_dilation', rhs_dilation)):
        if any(s < 1 for s in v):
            raise ValueError(f'{_NAME}: {name} must be positive, got {v} for {shapes}')
    g, b = feature_group_count, batch_group_count
    n, c = lhs.shape[ls[0]], lhs.shape[ls[1]]
    o, i = rhs.shape[rs[0]], rhs.shape[rs[1]]
    if g < 1 or b < 1 or (g > 1 and b > 1):
        raise ValueError(f'{_NAME}: at most one of batch_group_count and feature_group_count '
                         f'may be > 1 (and both must be >= 1), got batch_group_count={b} and '
                         f'feature_group_count={g}')
    if c % g:
        raise ValueError(f'{_NAME}: feature_group_count must divide the lhs feature dimension '
                         f'size, but {g} does not divide {c} ({shapes}); pick a '
                         'feature_group_count that divides the input channels.')
    if c // g != i:
        raise ValueError(f'{_NAME}: lhs feature dimension size divided by '
                         f'feature_group_count must equal the rhs input feature dimension '
                         f'size, but {c} // {g} != {i} ({shapes}, dimension_numbers='
                         f'{dimension_numbers}); check the kernel layout (rhs spec).')
    if o % g:
        raise ValueError(f'{_NAME}: rhs output feature dimension size must be a multiple of '
                         f'feature_group_count, but {o} is not a multiple of {g} ({shapes})')
    if n % b:
        raise ValueError(f'{_NAME}: batch_group_count must divide the lhs batch dimension '
                         f'size, but {b} does not divide {n} ({shapes})')
    if o % b:
        raise ValueError(f'{_NAME}: rhs output feature dimension size must be a multiple of '
                         f'batch_group_count, but {o} is not a multiple of {b} ({shapes})')
    spatial = [_out_size(lhs.shape[ls[2 + k]], rhs.shape[rs[2 + k]], window_strides[k],
                         lhs_dilation[k], rhs_dilation[k], *padding[k]) for k in range(nsp)]
    canon = [n // b, o] + spatial
    shape = [0] * lhs.ndim
    for j, ax in enumerate(os_):
        shape[ax] = canon[j]
    dtype = preferred_element_type or lhs.dtype
    return ShapedArray(tuple(shape), dtype, lhs.weak_type and rhs.weak_type)


def _as_strided(xp, a, shape, strides):
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)


def _pad_dilate(xp, x, lhs_dilation, padding):
    """Canonical lhs (N, C, spatial...) dilated and padded (negative padding crops)."""
    if all(d == 1 for d in lhs_dilation) and all(lo == hi == 0 for lo, hi in padding):
        return x
    sp = x.shape[2:]
    full = [_dilate(n, d) + max(lo, 0) + max(hi, 0)
            for n, d, (lo, hi) in zip(sp, lhs_dilation, padding)]
    buf = xp.zeros(x.shape[:2] + tuple(full), dtype=x.dtype)
    put = tuple(slice(max(lo, 0), max(lo, 0) + _dilate(n, d), d)
                for n, d, (lo, _) in zip(sp, lhs_dilation, padding))
    buf[(slice(None), slice(None)) + put] = x
    crop = tuple(slice(max(-lo, 0), max(f - max(-hi, 0), max(-lo, 0)))
                 for f, (lo, hi) in zip(full, padding))
    return buf[(slice(None), slice(None)) + crop]


def _conv_prepare(xp, lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                  dimension_numbers, feature_group_count, batch_group_count,
                  precision=None, preferred_element_type=None):
    """The convolution for fixed operand avals, as a function of the two buffers."""
    ls, rs, os_ = dimension_numbers
    out_aval = _conv_abstract(ShapedArray(lhs.shape, lhs.dtype), ShapedArray(rhs.shape, rhs.dtype),
                              window_strides, padding, lhs_dilation, rhs_dilation,
                              dimension_numbers, feature_group_count, batch_group_count,
                              precision, preferred_element_type)
    out_dtype = np.dtype(out_aval.dtype)
    compute = out_dtype
    if out_dtype in (dtypes.float16, dtypes.bfloat16) and xp is np:
        compute = np.dtype(np.float32)
    if dtypes.is_bool(out_dtype):
        compute = np.dtype(np.int32)
    tf32 = None
    if xp is not np and compute in (np.float32, np.complex64):
        tf32 = allows_tf32(precision, lhs.dtype, rhs.dtype)
    g, b = feature_group_count, batch_group_count
    groups = g * b
    n, c = lhs.shape[ls[0]], lhs.shape[ls[1]]
    o = rhs.shape[rs[0]]
    nb, cg, og = n // b, c // g, o // groups
    ksp = tuple(rhs.shape[d] for d in rs[2:])
    osp = tuple(out_aval.shape[d] for d in os_[2:])
    ksize, osize = math.prod(ksp), math.prod(osp)
    out_perm = tuple(int(a) for a in np.argsort(os_))
    canon_out = (nb, o) + osp
    flops = 2 * groups * nb * osize * cg * ksize * og
    matmul = xp.matmul if xp is not np else blas.host_matmul(flops)

    def run(x, w):
        if math.prod(canon_out) == 0 or ksize * cg == 0:
            z = xp.zeros(canon_out, dtype=out_dtype)
            return xp.ascontiguousarray(z.transpose(out_perm))
        x = _pad_dilate(xp, x.transpose(ls).astype(compute, copy=False), lhs_dilation, padding)
        x = xp.ascontiguousarray(x)
        st = x.strides
        # Windows as a view: (G, B, N/B, out spatial..., C/G, kernel spatial...).
        view_shape = (g, b, nb) + osp + (cg,) + ksp
        view_strides = ((cg * st[1], nb * st[0], st[0])
                        + tuple(s * stride for s, stride in zip(st[2:], window_strides))
                        + (st[1],)
                        + tuple(s * d for s, d in zip(st[2:], rhs_dilation)))
        cols = _as_strided(xp, x, view_shape, view_strides).reshape(groups, nb * osize, cg * ksize)
        k = w.transpose(rs).astype(compute, copy=False).reshape(groups, og, cg * ksize)
        k = k.transpose(0, 2, 1)
        if tf32 is None:
            out = matmul(cols, k)
        else:
            with cublas_float32_math(tf32):
                out = matmul(cols, k)
        # (groups, N/B, out spatial..., O/groups) -> canonical (N/B, O, out spatial...)
        nsp = len(osp)
        out = out.reshape((groups, nb) + osp + (og,))
        out = out.transpose((1, 0, nsp + 2) + tuple(range(2, 2 + nsp))).reshape(canon_out)
        out = out.transpose(out_perm)
        return xp.ascontiguousarray(out.astype(out_dtype, copy=False))
    return run


def _conv_impl(xp, lhs, rhs, **params):
    return _conv_prepare(xp, lhs, rhs, **params)(lhs, rhs)


_conv_jvp = common.bilinear_jvp(lambda: conv_general_dilated_p)


def _swap(spec):
    return (spec[1], spec[0]) + tuple(spec[2:])


def _canonical(spec):
    return tuple(range(len(spec)))


def _from_canonical(x, spec):
    """Canonical array -> the layout `spec` describes."""
    return structural.transpose(x, tuple(int(a) for a in np.argsort(spec)))


def _group_kernel(rhs, rs, groups):
    """Kernel for the lhs transpose of a grouped conv: canonical (groups * I, O / groups,
    spatial...) from (O, I, spatial...), spatially flipped."""
    w = structural.transpose(rhs, rs)
    o, i, *ksp = common.aval_of(w).shape
    w = structural.reshape(w, (groups, o // groups, i) + tuple(ksp))
    w = structural.transpose(w, (0, 2, 1) + tuple(range(3, 3 + len(ksp))))
    return structural.reshape(w, (groups * i, o // groups) + tuple(ksp))


def _transpose_lhs(ct, lhs_aval, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count, precision):
    ls, rs, os_ = dimension_numbers
    ra, ca = common.aval_of(rhs), common.aval_of(ct)
    pads = []
    for k in range(len(window_strides)):
        n, kk, y = lhs_aval.shape[ls[2 + k]], ra.shape[rs[2 + k]], ca.shape[os_[2 + k]]
        lo = _dilate(kk, rhs_dilation[k]) - 1 - padding[k][0]
        hi = _dilate(n, lhs_dilation[k]) + _dilate(kk, rhs_dilation[k]) - 1 - _dilate(y, window_strides[k]) - lo
        pads.append((lo, hi))
    groups = feature_group_count * batch_group_count
    sp = tuple(range(2, len(rs)))
    if groups == 1:
        w, w_spec = structural.rev(rhs, rs[2:]), _swap(rs)
    else:
        w, w_spec = structural.rev(_group_kernel(rhs, rs, groups), sp), _canonical(rs)
    out_spec = ls if batch_group_count == 1 else _canonical(ls)
    res = conv_general_dilated_p.bind(
        ct, w, window_strides=tuple(lhs_dilation), padding=tuple(pads),
        lhs_dilation=tuple(window_strides), rhs_dilation=tuple(rhs_dilation),
        dimension_numbers=ConvDimensionNumbers(tuple(os_), w_spec, tuple(out_spec)),
        feature_group_count=groups, batch_group_count=1, precision=precision,
        preferred_element_type=None)
    if batch_group_count > 1:
        # (N/B, B*C, spatial...) -> (B*N/B, C, spatial...): the batch groups go back
        # into the batch axis, major.
        nb, bc, *xs = common.aval_of(res).shape
        b = batch_group_count
        res = structural.reshape(res, (nb, b, bc // b) + tuple(xs))
        res = structural.transpose(res, (1, 0, 2) + tuple(range(3, 3 + len(xs))))
        res = _from_canonical(structural.reshape(res, (b * nb, bc // b) + tuple(xs)), ls)
    return res if common.aval_of(res).dtype == lhs_aval.dtype else \
        ew.convert(res, lhs_aval.dtype)


def _transpose_rhs(ct, lhs, rhs_aval, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count, precision):
    ls, rs, os_ = dimension_numbers
    la, ca = common.aval_of(lhs), common.aval_of(ct)
    pads = []
    for k in range(len(window_strides)):
        n, kk, y = la.shape[ls[2 + k]], rhs_aval.shape[rs[2 + k]], ca.shape[os_[2 + k]]
        lo = padding[k][0]
        hi = (_dilate(kk, rhs_dilation[k]) + _dilate(y, window_strides[k]) - 1
              - _dilate(n, lhs_dilation[k]) - lo)
        pads.append((lo, hi))
    # lhs's features are contracted (its batch axis plays the feature role), the
    # cotangent is the kernel, and the result's batch axis is the kernel's input feature.
    res = conv_general_dilated_p.bind(
        lhs, ct, window_strides=tuple(rhs_dilation), padding=tuple(pads),
        lhs_dilation=tuple(lhs_dilation), rhs_dilation=tuple(window_strides),
        dimension_numbers=ConvDimensionNumbers(_swap(ls), _swap(os_), _swap(rs)),
        feature_group_count=batch_group_count, batch_group_count=feature_group_count,
        precision=precision, preferred_element_type=None)
    return res if common.aval_of(res).dtype == rhs_aval.dtype else \
        ew.convert(res, rhs_aval.dtype)


def _conv_transpose(ct, lhs, rhs, **params):
    if ct is None:
        return [None, None]
    params.pop('preferred_element_type')
    ctype = common.aval_of(ct).dtype

    def convert(x, dt):
        return x if common.aval_of(x).dtype == dt else ew.convert(x, dt)
    if is_undefined(lhs):
        return [_transpose_lhs(ct, lhs.aval, convert(rhs, ctype), **params), None]
    return [None, _transpose_rhs(ct, convert(lhs, ctype), rhs.aval, **params)]


def _conv_batch(args, dims, window_strides, padding, lhs_dilation, rhs_dilation,
                dimension_numbers, feature_group_count, batch_group_count, precision=None,
                preferred_element_type=None):
    """vmap folds the mapped axis into the batch (lhs only), the output features (rhs
    only) or the feature / batch groups (both), working on canonical layouts."""
    lhs, rhs = args
    dl, dr = dims
    ls, rs, os_ = dimension_numbers
    nsp = len(ls) - 2
    sp = tuple(range(2, 2 + nsp))
    g, b = feature_group_count, batch_group_count
    size = common.batch_size(args, dims)

    def canon(x, d, spec):   # -> (vmap, canonical dims...)
        return structural.transpose(x, (d,) + tuple(a + (a >= d) for a in spec))

    def shape(x):
        return common.aval_of(x).shape
    R = structural.reshape
    if dl is not None:
        L = canon(lhs, dl, ls)
        _, n, c, *xs = shape(L)
        if dr is None:
            # (V, B, N/B, ...) -> (B, V, N/B, ...) -> (B*V*N/B, ...)
            L = R(L, (size, b, n // b, c) + tuple(xs))
            L = structural.transpose(L, (1, 0, 2, 3) + tuple(a + 2 for a in sp))
            L = R(L, (size * n, c) + tuple(xs))
        elif b == 1:
            # features (V, C) become V*G feature groups
            L = structural.transpose(L, (1, 0, 2) + tuple(a + 1 for a in sp))
            L = R(L, (n, size * c) + tuple(xs))
        else:
            # batch (V, N) becomes V*B batch groups
            L = R(L, (size * n, c) + tuple(xs))
    else:
        L = structural.transpose(lhs, ls)
    if dr is not None:
        W = canon(rhs, dr, rs)
        _, o, i, *ks = shape(W)
        if dl is None:
            # out features (V, groups, O/groups) -> (groups, V, O/groups)
            grp = g * b
            W = R(W, (size, grp, o // grp, i) + tuple(ks))
            W = structural.transpose(W, (1, 0, 2, 3) + tuple(a + 2 for a in sp))
        W = R(W, (size * o, i) + tuple(ks))
    else:
        W = structural.transpose(rhs, rs)
    both = dl is not None and dr is not None
    out = conv_general_dilated_p.bind(
        L, W, window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=ConvDimensionNumbers(*(_canonical(ls),) * 3),
        feature_group_count=g * size if both and b == 1 else g,
        batch_group_count=b * size if both and b > 1 else b,
        precision=precision, preferred_element_type=preferred_element_type)
    nn, oo, *ys = shape(out)
    ys = tuple(ys)
    tail = tuple(range(3, 3 + nsp))
    if dr is None:
        out = R(out, (size, nn // size, oo) + ys)                  # (V*N, O) -> (V, N, O)
    elif dl is None:
        grp = g * b
        o = oo // size
        out = R(out, (nn, grp, size, o // grp) + ys)               # (N, groups, V, O/groups)
        out = structural.transpose(out, (2, 0, 1, 3) + tuple(a + 1 for a in tail))
        out = R(out, (size, nn, o) + ys)
    else:
        out = R(out, (nn, size, oo // size) + ys)                  # (N, V, O) -> (V, N, O)
        out = structural.transpose(out, (1, 0, 2) + tail)
    perm = (0,) + tuple(1 + int(a) for a in np.argsort(os_))
    return structural.transpose(out, perm), 0


conv_general_dilated_p = common.define(_NAME, _conv_abstract, _conv_impl, _conv_jvp,
                                       _conv_transpose, _conv_batch)
conv_general_dilated_p.prepare = _conv_prepare
