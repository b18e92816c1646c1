"""Structural primitives: broadcast_in_dim, reshape, transpose, squeeze, rev, slice, pad,
concatenate, iota. All are linear, so each JVP applies the op to the tangent and each
has a transpose rule."""
import builtins
import math

import numpy as np

from tinyjax import dtypes
from tinyjax.compiler.codegen import c_literal, ctype, index_add, index_mul
from tinyjax.compiler.lowering import IndexMap
from tinyjax.compiler.passes import producer, same_type, unit_axes_map
from tinyjax.core.ir import Eqn, Literal, ShapedArray
from tinyjax.interpreters.ad import is_undefined
from tinyjax.interpreters import base_ops
from tinyjax.interpreters.batching import leading_axis_rule
from tinyjax.ops import common, reduction, elementwise as ew


def _linear_jvp(p):
    def rule(primals, tangents, **params):
        out = p.bind(*primals, **params)
        if all(t is None for t in tangents):
            return out, None
        if len(primals) == 1:
            return out, p.bind(tangents[0], **params)
        ts = [t if t is not None else common.zeros_like(x) for x, t in zip(primals, tangents)]
        return out, p.bind(*ts, **params)
    return rule


# --- broadcast_in_dim -----------------------------------------------------------------
def _bid_abstract(x, shape, broadcast_dimensions):
    shape, bd = tuple(shape), tuple(broadcast_dimensions)
    ok = len(bd) == x.ndim and all(0 <= d < len(shape) for d in bd) and \
        all(a < b for a, b in zip(bd, bd[1:])) and \
        all(x.shape[i] in (1, shape[d]) for i, d in enumerate(bd))
    if not ok:
        raise TypeError(f'broadcast_in_dim: cannot broadcast an operand of shape {x.shape} to '
                        f'shape {shape} with broadcast_dimensions={bd}. Each operand axis '
                        'must map, in increasing order, to an output axis of equal size or '
                        'have size 1.')
    return ShapedArray(shape, x.dtype, x.weak_type)


def _bid_impl(xp, x, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = x.shape[i]
    return xp.broadcast_to(x.reshape(expanded), shape)


def _bid_transpose(ct, x, shape, broadcast_dimensions):
    if ct is None:
        return [None]
    bd = broadcast_dimensions
    summed = tuple(d for d in range(len(shape)) if d not in bd or
                   (x.aval.shape[bd.index(d)] == 1 and shape[d] != 1))
    out = reduction.reduce_sum(ct, summed) if summed else ct
    return [reshape(out, x.aval.shape)]


def _bid_fix(size, shape, broadcast_dimensions):
    return dict(shape=(size,) + tuple(shape),
                broadcast_dimensions=(0,) + tuple(d + 1 for d in broadcast_dimensions))


broadcast_in_dim_p = common.define('broadcast_in_dim', _bid_abstract, _bid_impl,
                                   transpose=_bid_transpose)
broadcast_in_dim_p.jvp = _linear_jvp(broadcast_in_dim_p)
broadcast_in_dim_p.batch = leading_axis_rule(broadcast_in_dim_p, _bid_fix)


def broadcast_in_dim(x, shape, broadcast_dimensions):
    shape, bd = tuple(int(s) for s in shape), tuple(int(d) for d in broadcast_dimensions)
    if common.aval_of(x).shape == shape and bd == tuple(range(len(shape))):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=bd)


# --- reshape ------------------------------------------------------------------------
def _reshape_abstract(x, new_sizes):
    if math.prod(new_sizes) != x.size or any(d < 0 for d in new_sizes):
        raise TypeError(f'reshape: cannot reshape an array of shape {x.shape} ({x.size} '
                        f'elements) into shape {tuple(new_sizes)} '
                        f'({math.prod(new_sizes)} elements); the sizes must match.')
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


reshape_p = common.define(
    'reshape', _reshape_abstract, lambda xp, x, new_sizes: x.reshape(new_sizes),
    transpose=lambda ct, x, new_sizes: [None if ct is None else reshape(ct, x.aval.shape)])
reshape_p.jvp = _linear_jvp(reshape_p)
reshape_p.batch = leading_axis_rule(reshape_p, lambda b, new_sizes: dict(new_sizes=(b,) + new_sizes))


def reshape(x, new_sizes):
    new_sizes = tuple(int(d) for d in new_sizes)
    if common.aval_of(x).shape == new_sizes:
        return x
    return reshape_p.bind(x, new_sizes=new_sizes)


# --- transpose ----------------------------------------------------------------------
def _transpose_abstract(x, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(f'transpose: permutation {permutation} is not a permutation of the '
                         f'axes of an array of shape {x.shape}')
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


transpose_p = common.define(
    'transpose', _transpose_abstract, lambda xp, x, permutation: xp.transpose(x, permutation),
    transpose=lambda ct, x, permutation: [
        None if ct is None else transpose(ct, tuple(np.argsort(permutation)))])
transpose_p.jvp = _linear_jvp(transpose_p)
transpose_p.batch = leading_axis_rule(
    transpose_p, lambda b, permutation: dict(permutation=(0,) + tuple(p + 1 for p in permutation)))


def transpose(x, permutation):
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return transpose_p.bind(x, permutation=permutation)


# --- squeeze ------------------------------------------------------------------------
def _squeeze_abstract(x, dimensions):
    for d in dimensions:
        if not 0 <= d < x.ndim or x.shape[d] != 1:
            raise ValueError(f'squeeze: cannot squeeze axis {d} of an array of shape '
                             f'{x.shape}; only axes of size 1 can be squeezed')
    return ShapedArray(tuple(s for i, s in enumerate(x.shape) if i not in dimensions),
                       x.dtype, x.weak_type)


squeeze_p = common.define(
    'squeeze', _squeeze_abstract,
    lambda xp, x, dimensions: x.reshape([s for i, s in enumerate(x.shape) if i not in dimensions]),
    transpose=lambda ct, x, dimensions: [None if ct is None else reshape(ct, x.aval.shape)])
squeeze_p.jvp = _linear_jvp(squeeze_p)
squeeze_p.batch = leading_axis_rule(
    squeeze_p, lambda b, dimensions: dict(dimensions=tuple(d + 1 for d in dimensions)))


def squeeze(x, dimensions):
    nd = common.aval_of(x).ndim
    dims = tuple(sorted(common.normalize_axis(d, nd, 'squeeze') for d in dimensions))
    return squeeze_p.bind(x, dimensions=dims) if dims else x


def expand_dims(x, dimensions):
    shape = list(common.aval_of(x).shape)
    nd = len(shape) + len(dimensions)
    for d in sorted(common.normalize_axis(d, nd, 'expand_dims') for d in dimensions):
        shape.insert(d, 1)
    return reshape(x, shape)


# --- rev ------------------------------------------------------------------------------
rev_p = common.define(
    'rev', lambda x, dimensions: x, lambda xp, x, dimensions: xp.flip(x, dimensions) if dimensions else x,
    transpose=lambda ct, x, dimensions: [None if ct is None else rev(ct, dimensions)])
rev_p.jvp = _linear_jvp(rev_p)
rev_p.batch = leading_axis_rule(rev_p, lambda b, dimensions: dict(dimensions=tuple(d + 1 for d in dimensions)))


def rev(x, dimensions):
    return rev_p.bind(x, dimensions=tuple(dimensions))


# --- slice ----------------------------------------------------------------------------
def _slice_abstract(x, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    ok = len(start_indices) == len(limit_indices) == len(strides) == x.ndim and all(
        0 <= s <= l <= n and st > 0
        for s, l, n, st in zip(start_indices, limit_indices, x.shape, strides))
    if not ok:
        raise TypeError(f'slice: start_indices={start_indices}, limit_indices={limit_indices}, '
                        f'strides={strides} do not fit an operand of shape {x.shape}; need '
                        '0 <= start <= limit <= size and strides > 0 for every axis.')
    shape = tuple((l - s + st - 1) // st for s, l, st in zip(start_indices, limit_indices, strides))
    return ShapedArray(shape, x.dtype, x.weak_type)


def _slice_impl(xp, x, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    return x[tuple(builtins.slice(s, l, st) for s, l, st in zip(start_indices, limit_indices, strides))]


def _slice_transpose(ct, x, start_indices, limit_indices, strides):
    if ct is None:
        return [None]
    strides = strides or (1,) * x.aval.ndim
    out_shape = common.aval_of(ct).shape
    config = []
    for s, st, n, m in zip(start_indices, strides, x.aval.shape, out_shape):
        used = s + (m - 1) * st + 1 if m else s
        config.append((s, n - used, st - 1) if m else (s, n - s, 0))
    zero = common.scalar(0, x.aval.dtype)
    return [pad(ct, zero, tuple(config))]


def _slice_fix(b, start_indices, limit_indices, strides):
    return dict(start_indices=(0,) + tuple(start_indices), limit_indices=(b,) + tuple(limit_indices),
                strides=None if strides is None else (1,) + tuple(strides))


slice_p = common.define('slice', _slice_abstract, _slice_impl, transpose=_slice_transpose)
slice_p.jvp = _linear_jvp(slice_p)
slice_p.batch = leading_axis_rule(slice_p, _slice_fix)


def slice(x, start_indices, limit_indices, strides=None):
    start, limit = tuple(int(i) for i in start_indices), tuple(int(i) for i in limit_indices)
    strides = None if strides is None or all(s == 1 for s in strides) else tuple(int(s) for s in strides)
    if start == (0,) * len(start) and limit == common.aval_of(x).shape and strides is None:
        return x
    return slice_p.bind(x, start_indices=start, limit_indices=limit, strides=strides)


def slice_in_dim(x, start, limit, stride=1, axis=0):
    shape = common.aval_of(x).shape
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, limit, stride
    return slice(x, starts, limits, strides)


# --- pad ------------------------------------------------------------------------------
def _pad_abstract(x, padding_value, padding_config):
    common.check_same_dtypes('pad', [x, padding_value])
    if padding_value.shape != () or len(padding_config) != x.ndim:
        raise TypeError(f'pad: need a 0-d padding value and one (low, high, interior) triple '
                        f'per axis of the operand {x.shape}; got padding value '
                        f'{padding_value.shape} and config {padding_config}')
    shape = []
    for n, (lo, hi, it) in zip(x.shape, padding_config):
        if it < 0:
            raise ValueError(f'pad: interior padding must be >= 0, got {padding_config}')
        size = lo + hi + n + max(n - 1, 0) * it
        if size < 0:
            raise ValueError(f'pad: config {padding_config} gives a negative size for an '
                             f'operand of shape {x.shape}')
        shape.append(size)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _pad_impl(xp, x, padding_value, padding_config):
    inner = [lo if lo > 0 else 0 for lo, _, _ in padding_config]
    full_shape = [max(lo, 0) + max(hi, 0) + n + max(n - 1, 0) * it
                  for n, (lo, hi, it) in zip(x.shape, padding_config)]
    out = xp.full(full_shape, padding_value, dtype=x.dtype)
    idx = tuple(builtins.slice(lo, lo + (n - 1) * (it + 1) + 1 if n else lo, it + 1)
                for lo, n, (_, _, it) in zip(inner, x.shape, padding_config))
    out[idx] = x
    crop = tuple(builtins.slice(-lo if lo < 0 else 0, s + hi if hi < 0 else s)
                 for s, (lo, hi, _) in zip(full_shape, padding_config))
    return out[crop]


def _pad_transpose(ct, x, padding_value, padding_config):
    if ct is None:
        return [None, None]
    unpadded = pad(ct, common.scalar(0, common.aval_of(ct).dtype),
                   tuple((-lo, -hi, 0) for lo, hi, _ in padding_config))
    shape = common.aval_of(unpadded).shape
    t_x = slice(unpadded, (0,) * len(shape), shape, tuple(it + 1 for _, _, it in padding_config))
    t_pv = None
    if is_undefined(padding_value):
        axes = tuple(range(len(shape)))
        t_pv = ew.sub(reduction.reduce_sum(ct, axes), reduction.reduce_sum(t_x, axes))
    return [t_x if is_undefined(x) else None, t_pv]


def _pad_batch(args, dims, padding_config):
    x, pv = args
    dx, dpv = dims
    size = common.batch_size(args, dims)
    config = ((0, 0, 0),) + tuple(padding_config)
    x = common.move_batch_axis(x, dx, 0, size)
    if dpv is None:
        return pad(x, pv, config), 0
    # A batched padding value: pad with zeros and select the per-example value outside.
    zero = common.scalar(0, common.aval_of(x).dtype)
    padded = pad(x, zero, config)
    shape = common.aval_of(padded).shape
    mask = pad(common.full(common.aval_of(x).shape, True, dtypes.bool_),
               common.scalar(False, dtypes.bool_), config)
    pvb = broadcast_in_dim(common.move_batch_axis(pv, dpv, 0), shape, (0,))
    return ew.select_n(mask, pvb, padded), 0


pad_p = common.define('pad', _pad_abstract, _pad_impl, transpose=_pad_transpose, batch=_pad_batch)
pad_p.jvp = _linear_jvp(pad_p)


def pad(x, padding_value, padding_config):
    return pad_p.bind(x, padding_value,
                      padding_config=tuple(tuple(int(v) for v in c) for c in padding_config))


# --- concatenate --------------------------------------------------------------------
def _concat_abstract(*xs, dimension):
    common.check_same_dtypes('concatenate', xs)
    nd = xs[0].ndim
    if not 0 <= dimension < nd:
        raise ValueError(f'concatenate: dimension {dimension} out of range for rank {nd}')
    for x in xs:
        if x.ndim != nd or any(a != b for i, (a, b) in enumerate(zip(x.shape, xs[0].shape))
                               if i != dimension):
            raise TypeError('concatenate: operands must have equal shapes except along axis '
                            f'{dimension}; got {[x.shape for x in xs]}')
    shape = list(xs[0].shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(shape, xs[0].dtype, all(x.weak_type for x in xs))


def _concat_transpose(ct, *xs, dimension):
    outs, start = [], 0
    for x in xs:
        n = x.aval.shape[dimension]
        if is_undefined(x) and ct is not None:
            outs.append(slice_in_dim(ct, start, start + n, 1, dimension))
        else:
            outs.append(None)
        start += n
    return outs


def _concat_batch(args, dims, dimension):
    size = common.batch_size(args, dims)
    xs = [common.move_batch_axis(x, d, 0, size) for x, d in zip(args, dims)]
    return concatenate(xs, dimension + 1), 0


concatenate_p = common.define('concatenate', _concat_abstract,
                              lambda xp, *xs, dimension: xp.concatenate(xs, axis=dimension),
                              transpose=_concat_transpose, batch=_concat_batch)
concatenate_p.jvp = _linear_jvp(concatenate_p)


def concatenate(xs, dimension):
    xs = list(xs)
    if len(xs) == 1:
        return xs[0]
    return concatenate_p.bind(*xs, dimension=int(dimension))


# --- iota -----------------------------------------------------------------------------
def _iota_abstract(dtype, shape, dimension):
    if not 0 <= dimension < len(shape):
        raise ValueError(f'iota: dimension {dimension} out of range for shape {shape}')
    return ShapedArray(shape, dtype, False)


def _iota_impl(xp, dtype, shape, dimension):
    r = xp.arange(shape[dimension], dtype=dtype)
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    return xp.broadcast_to(r.reshape(expanded), shape)


iota_p = common.define('iota', _iota_abstract, _iota_impl,
                       jvp=lambda primals, tangents, **p: (iota_p.bind(**p), None))


def iota(dtype, size):
    return iota_p.bind(dtype=np.dtype(dtype), shape=(int(size),), dimension=0)


def broadcasted_iota(dtype, shape, dimension):
    return iota_p.bind(dtype=np.dtype(dtype), shape=tuple(int(s) for s in shape),
                       dimension=int(dimension))


# --- lowerings: each op as an index map (output index -> operand index) ---------------
# `em` is the compiler's emitter: em.value(var, index) reads an operand at C index names.
def _lower_iota(em, e, idx):
    d = e.params['dimension']
    i = '0' if e.outputs[0].aval.shape[d] == 1 else idx[d]
    return f'({ctype(e.params["dtype"])})({i})'


def _lower_broadcast(em, e, idx):
    x = e.inputs[0]
    return em.value(x, tuple('0' if x.aval.shape[k] == 1 else idx[d]
                             for k, d in enumerate(e.params['broadcast_dimensions'])))


def _lower_reshape(em, e, idx):
    x = e.inputs[0]
    return em.value(x, em.reshape_index(e.outputs[0].aval.shape, idx, x.aval.shape))


def _lower_transpose(em, e, idx):
    inv = [None] * len(idx)
    for k, src in enumerate(e.params['permutation']):
        inv[src] = idx[k]
    return em.value(e.inputs[0], tuple(inv))


def _lower_rev(em, e, idx):
    x = e.inputs[0]
    xs = x.aval.shape
    return em.value(x, tuple(f'({xs[d] - 1} - {i})' if d in e.params['dimensions'] and xs[d] != 1
                             else i for d, i in enumerate(idx)))


def _lower_slice(em, e, idx):
    x, p = e.inputs[0], e.params
    xs = x.aval.shape
    st = p['strides'] or (1,) * len(xs)
    return em.value(x, tuple(
        '0' if xs[d] == 1 else em.index_temp(
            index_add(str(s) if s else '0', index_mul(str(k), i) if k != 1 else i))
        for d, (i, s, k) in enumerate(zip(idx, p['start_indices'], st))))


def _lower_pad(em, e, idx):
    x, pv = e.inputs
    conds, in_idx = [], []
    for i, n, (lo, hi, it) in zip(idx, x.aval.shape, e.params['padding_config']):
        if n == 0:
            return em.value(pv, ())
        t = em.index_temp(index_add(i, str(-lo)) if lo else i)
        if it:
            c = f'({t} >= 0 && {t} % {it + 1} == 0 && {t} / {it + 1} < {n})'
            src = f'{t} / {it + 1}'
        else:
            c = f'({t} >= 0 && {t} < {n})'
            src = t
        conds.append(c)
        in_idx.append('0' if n == 1 else em.index_temp(f'({c} ? {src} : 0)'))
    ok = ' && '.join(conds) if conds else 'true'
    return f'(({ok}) ? {em.value(x, tuple(in_idx))} : {em.value(pv, ())})'


def _lower_concatenate(em, e, idx):
    d = e.params['dimension']
    pieces, start = [], 0
    for x in e.inputs:
        n = x.aval.shape[d]
        if n:
            pieces.append((x, start, n))
        start += n
    if not pieces:           # every piece is empty: so is the result, never read
        return c_literal(0, e.outputs[0].aval.dtype)

    def piece(x, s, n):
        local = '0' if n == 1 else em.index_temp(
            f'tj_clampi<{em.itype}>({index_add(idx[d], str(-s))}, 0, {n - 1})')
        return em.value(x, tuple(local if k == d else i for k, i in enumerate(idx)))
    if len(pieces) == 1:
        return piece(*pieces[0])
    # Only the piece an element lies in is computed (a vstack of hstacks of sampled
    # images would otherwise compute every piece, random bits and all, per element).
    name = em.branches(ctype(e.outputs[0].aval.dtype), [
        (f'{idx[d]} < {s + n}' if k < len(pieces) - 1 else None,
         lambda x=x, s=s, n=n: piece(x, s, n)) for k, (x, s, n) in enumerate(pieces)])
    if name is not None:
        return name
    expr = None
    for x, s, n in reversed(pieces):
        v = piece(x, s, n)
        expr = v if expr is None else f'({idx[d]} < {s + n} ? {v} : {expr})'
    return expr


iota_p.lowering = IndexMap(_lower_iota)
broadcast_in_dim_p.lowering = IndexMap(_lower_broadcast, named=False)
reshape_p.lowering = IndexMap(_lower_reshape, named=False)
squeeze_p.lowering = IndexMap(_lower_reshape, named=False)
transpose_p.lowering = IndexMap(_lower_transpose)
rev_p.lowering = IndexMap(_lower_rev)
slice_p.lowering = IndexMap(_lower_slice)
pad_p.lowering = IndexMap(_lower_pad, cheap=False)
concatenate_p.lowering = IndexMap(_lower_concatenate, cheap=False)


# --- simplifications the compiler applies (compiler/passes.py: simplify) ---------------
def _inner(ins, defs):
    """(the structural equation producing the operand, its operand), or (None, None)."""
    d = producer(ins[0], defs)
    if d is None or not d.inputs or len(d.outputs) != 1:
        return None, None
    return d, d.inputs[0]


def _simplify_transpose(out, ins, params, defs):
    if tuple(params['permutation']) == tuple(range(out.aval.ndim)):
        return ins[0]
    d, src = _inner(ins, defs)
    if d is None or isinstance(src, Literal) or d.prim is not transpose_p:
        return None
    perm = tuple(d.params['permutation'][i] for i in params['permutation'])
    if perm == tuple(range(len(perm))):
        return src if same_type(out.aval, src.aval) else None
    return Eqn(transpose_p, [src], {'permutation': perm}, [out])


def _simplify_reshape(out, ins, params, defs):
    if same_type(out.aval, ins[0].aval):
        return ins[0]
    d, src = _inner(ins, defs)
    if d is None or isinstance(src, Literal) or d.prim not in (reshape_p, squeeze_p):
        return None
    if out.aval.shape == src.aval.shape:
        return src
    return Eqn(reshape_p, [src], {'new_sizes': tuple(out.aval.shape)}, [out])


def _simplify_broadcast(out, ins, params, defs):
    if out.aval.shape == ins[0].aval.shape:
        return ins[0]
    d, src = _inner(ins, defs)
    if d is None:
        return None
    bd = params['broadcast_dimensions']
    if d.prim is broadcast_in_dim_p:
        dims = tuple(bd[k] for k in d.params['broadcast_dimensions'])
    elif d.prim in (reshape_p, squeeze_p):
        # A reshape that only inserted or removed unit axes: map src's axes straight through.
        kept = unit_axes_map(src.aval.shape, d.outputs[0].aval.shape)
        if kept is None:
            return None
        dims = tuple(bd[k] for k in kept)
    else:
        return None
    return Eqn(broadcast_in_dim_p, [src], {'shape': tuple(out.aval.shape),
                                           'broadcast_dimensions': dims}, [out])


transpose_p.simplify = _simplify_transpose
reshape_p.simplify = _simplify_reshape
broadcast_in_dim_p.simplify = _simplify_broadcast


base_ops.install(broadcast_in_dim=broadcast_in_dim, transpose=transpose)
