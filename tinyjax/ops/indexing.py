"""Indexing primitives: dynamic_slice, dynamic_update_slice, gather and the scatters.

gather and scatter use one simple form rather than XLA's dimension numbers:

    gather(operand, indices, axes)      indices: int[*batch, k], k == len(axes)
      out[*b, *rest] = operand with operand[axes[j]] = indices[*b, j], the other axes
                       (`rest`, in operand order) taken whole
    scatter-<kind>(operand, indices, updates, axes)
      updates has gather's output shape; each update row lands where gather reads it.

That covers NumPy indexing (index arrays on some axes, whole slices on the others);
vmap adds an iota component to index the batch axis. Out-of-bounds modes, as JAX's:
  'clip'               gather and scatter clamp each index into range;
  'fill'               gather gives fill_value, scatter drops the update (FILL_OR_DROP);
  'promise_in_bounds'  gather clamps, scatter drops (what XLA does on CPU).
Negative indices are wrapped by tinyjax.numpy before they reach these primitives.
"""
import numpy as np

from tinyjax import dtypes
from tinyjax.core.ir import ShapedArray
from tinyjax.interpreters.ad import is_undefined
from tinyjax.ops import common, structural
from tinyjax.ops import elementwise as ew

MODES = ('clip', 'fill', 'promise_in_bounds')


def _is_undefined(x):
    return is_undefined(x)


def _inst(t, like):
    return t if t is not None else common.zeros(common.aval_of(like).strip_weak())


def _check_index_dtype(op, aval):
    if not dtypes.is_int(aval.dtype):
        raise TypeError(f'{op}: indices must have an integer dtype, got {aval.dtype.name}')


def _index_scalar(v, dtype):
    return common.scalar(v, dtype)


# --- dynamic_slice --------------------------------------------------------------------
def _ds_abstract(operand, *starts, slice_sizes):
    if len(starts) != operand.ndim or len(slice_sizes) != operand.ndim:
        raise ValueError(f'dynamic_slice: need one start index and one slice size per axis of '
                        f'the operand {operand.shape}; got {len(starts)} start indices and '
                        f'slice_sizes={slice_sizes}')
    for s in starts:
        _check_index_dtype('dynamic_slice', s)
        if s.shape != ():
            raise TypeError(f'dynamic_slice: start indices must be 0-d, got shape {s.shape}')
    for n, s in zip(operand.shape, slice_sizes):
        if not 0 <= s <= n:
            raise TypeError(f'dynamic_slice: slice_sizes={slice_sizes} must lie within the '
                            f'operand shape {operand.shape}')
    return ShapedArray(slice_sizes, operand.dtype, operand.weak_type)


def _clamped_starts(starts, shape, sizes):
    # JAX moves a start back so the whole window stays inside the array.
    return [min(max(int(s), 0), n - m) for s, n, m in zip(starts, shape, sizes)]


def _ds_impl(xp, operand, *starts, slice_sizes):
    st = _clamped_starts(starts, operand.shape, slice_sizes)
    return operand[tuple(slice(s, s + m) for s, m in zip(st, slice_sizes))]


def _ds_jvp(primals, tangents, slice_sizes):
    operand, *starts = primals
    out = dynamic_slice_p.bind(operand, *starts, slice_sizes=slice_sizes)
    if tangents[0] is None:
        return out, None
    return out, dynamic_slice_p.bind(tangents[0], *starts, slice_sizes=slice_sizes)


def _ds_transpose(ct, operand, *starts, slice_sizes):
    if ct is None:
        return [None] * (1 + len(starts))
    zeros = common.zeros(operand.aval)
    return [dynamic_update_slice_p.bind(zeros, ct, *starts)] + [None] * len(starts)


def _window_indices(starts, dims, shape, sizes, size):
    """Indices int[size, *sizes, k+1] covering a window per example: component 0 is the
    example, component j+1 the clamped start along axis j plus the offset in the window."""
    grid = (size,) + tuple(sizes)
    dt = dtypes.default_int()
    comps = [structural.broadcasted_iota(dt, grid, 0)]
    for j, (s, d, n, m) in enumerate(zip(starts, dims, shape, sizes)):
        s = ew.convert(s, dt)
        s = ew.clamp(_index_scalar(0, dt), s, _index_scalar(n - m, dt))
        s = common.move_batch_axis(s, d, 0, size) if d is not None else s
        sb = structural.broadcast_in_dim(s, grid, (0,) if d is not None else ())
        comps.append(ew.add(sb, structural.broadcasted_iota(dt, grid, j + 1)))
    comps = [structural.reshape(c, grid + (1,)) for c in comps]
    return structural.concatenate(comps, len(grid))


def _ds_batch(args, dims, slice_sizes):
    operand, *starts = args
    size = common.batch_size(args, dims)
    x = common.move_batch_axis(operand, dims[0], 0, size)
    if all(d is None for d in dims[1:]):
        zero = _index_scalar(0, common.aval_of(starts[0]).dtype) if starts else \
            _index_scalar(0, dtypes.default_int())
        return dynamic_slice_p.bind(x, zero, *starts, slice_sizes=(size,) + tuple(slice_sizes)), 0
    # Per-example starts: read the windows with one gather.
    shape = common.aval_of(operand).shape if dims[0] is None else \
        common.aval_of(x).shape[1:]
    idx = _window_indices(starts, dims[1:], shape, slice_sizes, size)
    return gather(x, idx, tuple(range(len(shape) + 1)), 'clip'), 0


dynamic_slice_p = common.define('dynamic_slice', _ds_abstract, _ds_impl, _ds_jvp,
                                _ds_transpose, _ds_batch)


# --- dynamic_update_slice -------------------------------------------------------------
def _dus_abstract(operand, update, *starts):
    common.check_same_dtypes('dynamic_update_slice', [operand, update])
    if update.ndim != operand.ndim or len(starts) != operand.ndim or \
            any(u > n for u, n in zip(update.shape, operand.shape)):
        raise TypeError(f'dynamic_update_slice: the update {update.shape} must have the '
                        f'operand\'s rank and fit inside it {operand.shape}, with one start '
                        f'index per axis (got {len(starts)})')
    for s in starts:
        _check_index_dtype('dynamic_update_slice', s)
        if s.shape != ():
            raise TypeError(f'dynamic_update_slice: start indices must be 0-d, got {s.shape}')
    return ShapedArray(operand.shape, operand.dtype, operand.weak_type)


def _dus_impl(xp, operand, update, *starts):
    st = _clamped_starts(starts, operand.shape, update.shape)
    out = operand.copy()
    out[tuple(slice(s, s + m) for s, m in zip(st, update.shape))] = update
    return out


def _dus_jvp(primals, tangents):
    operand, update, *starts = primals
    out = dynamic_update_slice_p.bind(*primals)
    t_op, t_up = tangents[0], tangents[1]
    if t_op is None and t_up is None:
        return out, None
    return out, dynamic_update_slice_p.bind(_inst(t_op, operand), _inst(t_up, update), *starts)


def _dus_transpose(ct, operand, update, *starts):
    if ct is None:
        return [None] * (2 + len(starts))
    u_aval = update.aval if _is_undefined(update) else common.aval_of(update)
    ct_op = dynamic_update_slice_p.bind(ct, common.zeros(u_aval), *starts) \
        if _is_undefined(operand) else None
    ct_up = dynamic_slice_p.bind(ct, *starts, slice_sizes=u_aval.shape) \
        if _is_undefined(update) else None
    return [ct_op, ct_up] + [None] * len(starts)


def _dus_batch(args, dims):
    operand, update, *starts = args
    size = common.batch_size(args, dims)
    x = common.move_batch_axis(operand, dims[0], 0, size)
    u = common.move_batch_axis(update, dims[1], 0, size)
    if all(d is None for d in dims[2:]):
        zero = _index_scalar(0, common.aval_of(starts[0]).dtype) if starts else \
            _index_scalar(0, dtypes.default_int())
        return dynamic_update_slice_p.bind(x, u, zero, *starts), 0
    shape = common.aval_of(x).shape[1:]
    u_shape = common.aval_of(u).shape[1:]
    idx = _window_indices(starts, dims[2:], shape, u_shape, size)
    return scatter(x, idx, u, tuple(range(len(shape) + 1)), 'clip', 'set', True), 0


dynamic_update_slice_p = common.define('dynamic_update_slice', _dus_abstract, _dus_impl,
                                       _dus_jvp, _dus_transpose, _dus_batch)


# --- gather ---------------------------------------------------------------------------
def _check_gather_form(op, operand, indices, axes, mode):
    _check_index_dtype(op, indices)
    if mode not in MODES:
        raise ValueError(f'{op}: unknown mode {mode!r}; expected one of {MODES}')
    if indices.ndim < 1 or indices.shape[-1] != len(axes):
        raise TypeError(f'{op}: indices {indices.shape} must end in an axis of length '
                        f'len(axes)={len(axes)}')
    if len(set(axes)) != len(axes) or not all(0 <= a < operand.ndim for a in axes):
        raise TypeError(f'{op}: axes {axes} must be distinct axes of the operand {operand.shape}')
    if indices.size and any(operand.shape[a] == 0 for a in axes):
        raise TypeError(f'{op}: cannot index into a zero-size axis of an operand of shape '
                        f'{operand.shape}')
    rest = tuple(s for d, s in enumerate(operand.shape) if d not in axes)
    return indices.shape[:-1] + rest


def _gather_abstract(operand, indices, axes, mode, fill_value):
    shape = _check_gather_form('gather', operand, indices, axes, mode)
    return ShapedArray(shape, operand.dtype, operand.weak_type)


def _locate(xp, shape, indices, axes, mode):
    """Integer index columns into the operand with `axes` moved first, and the mask of
    in-bounds rows (None when everything is clamped into range)."""
    sizes = xp.asarray([shape[a] for a in axes], dtype=np.int64)
    idx = indices.astype(np.int64)
    valid = None
    if mode == 'clip':
        idx = xp.clip(idx, 0, xp.maximum(sizes - 1, 0))
    else:
        valid = xp.all((idx >= 0) & (idx < sizes), axis=-1)
        idx = xp.clip(idx, 0, xp.maximum(sizes - 1, 0))
    return tuple(idx[..., j] for j in range(len(axes))), valid


def _moved_first(ndim, axes):
    return tuple(axes) + tuple(d for d in range(ndim) if d not in axes)


def default_fill_value(dtype):
    """JAX's fill for mode='fill': NaN, the most negative signed int, the largest
    unsigned int, True."""
    dtype = np.dtype(dtype)
    if dtypes.is_inexact(dtype):
        return float('nan')
    if dtypes.is_bool(dtype):
        return True
    return int(np.iinfo(dtype).max if dtypes.is_unsigned(dtype) else np.iinfo(dtype).min)


def _gather_impl(xp, operand, indices, axes, mode, fill_value):
    batch = indices.shape[:-1]
    rest = tuple(s for d, s in enumerate(operand.shape) if d not in axes)
    if not axes:
        return xp.broadcast_to(operand, batch + operand.shape)
    if indices.size == 0 or operand.size == 0:
        return xp.zeros(batch + rest, operand.dtype)
    cols, valid = _locate(xp, operand.shape, indices, axes, mode)
    out = xp.transpose(operand, _moved_first(operand.ndim, axes))[cols]
    if mode == 'fill':
        fill = default_fill_value(operand.dtype) if fill_value is None else fill_value
        mask = valid.reshape(valid.shape + (1,) * len(rest))
        out = xp.where(mask, out, xp.asarray(fill).astype(operand.dtype))
    return out


def _gather_jvp(primals, tangents, axes, mode, fill_value):
    operand, indices = primals
    out = gather_p.bind(operand, indices, axes=axes, mode=mode, fill_value=fill_value)
    if tangents[0] is None:
        return out, None
    # Filled positions do not depend on the operand: their tangent is zero.
    return out, gather_p.bind(tangents[0], indices, axes=axes, mode=mode,
                              fill_value=0 if mode == 'fill' else None)


def _gather_transpose(ct, operand, indices, axes, mode, fill_value):
    if ct is None or not _is_undefined(operand):
        return [None, None]
    zeros = common.zeros(operand.aval)
    return [scatter(zeros, indices, ct, axes, mode, 'add'), None]


def _gather_batch(args, dims, axes, mode, fill_value):
    operand, indices = args
    d_op, d_idx = dims
    size = common.batch_size(args, dims)
    if d_idx is None:
        # Only the operand is batched: its batch axis is one more whole axis; it lands
        # first among the `rest` axes of the output.
        x = common.move_batch_axis(operand, d_op, 0)
        out = gather(x, indices, tuple(a + 1 for a in axes), mode, fill_value)
        return out, common.aval_of(indices).ndim - 1
    idx = common.move_batch_axis(indices, d_idx, 0)
    if d_op is None:
        return gather(operand, idx, axes, mode, fill_value), 0
    # Both batched: index the batch axis with an iota so example b reads operand b.
    x = common.move_batch_axis(operand, d_op, 0)
    idx = _prepend_iota(idx, size)
    return gather(x, idx, (0,) + tuple(a + 1 for a in axes), mode, fill_value), 0


def _prepend_iota(idx, size):
    a = common.aval_of(idx)
    it = structural.broadcasted_iota(a.dtype, a.shape[:-1] + (1,), 0)
    return structural.concatenate([it, idx], a.ndim - 1)


gather_p = common.define('gather', _gather_abstract, _gather_impl, _gather_jvp,
                         _gather_transpose, _gather_batch)


def gather(operand, indices, axes, mode='promise_in_bounds', fill_value=None):
    return gather_p.bind(operand, indices, axes=tuple(int(a) for a in axes), mode=mode,
                         fill_value=fill_value)


# --- scatter, scatter-add, scatter-mul, scatter-min, scatter-max ----------------------
def _scatter_abstract(name):
    def rule(operand, indices, updates, axes, mode, unique_indices):
        shape = _check_gather_form(name, operand, indices, axes, mode)
        common.check_same_dtypes(name, [operand, updates])
        if updates.shape != shape:
            raise TypeError(f'{name}: updates must have shape {shape} (the index batch shape '
                            f'then the operand axes not indexed), got {updates.shape}')
        return ShapedArray(operand.shape, operand.dtype, operand.weak_type)
    return rule


def _ufunc_at(xp, kind, target, cols, upd):
    if kind == 'set':
        target[cols] = upd
        return
    if xp is np:
        {'add': np.add, 'mul': np.multiply, 'min': np.minimum, 'max': np.maximum}[kind].at(
            target, cols, upd)
        return
    import cupyx
    fn = {'add': 'scatter_add', 'min': 'scatter_min', 'max': 'scatter_max'}.get(kind)
    if fn is not None:
        getattr(cupyx, fn)(target, cols, upd)
        return
    # CuPy has no scatter-multiply: do this one on the host.
    host = xp.asnumpy(target)
    np.multiply.at(host, tuple(xp.asnumpy(c) for c in cols), xp.asnumpy(upd))
    target[...] = xp.asarray(host)


def _scatter_impl(kind):
    def impl(xp, operand, indices, updates, axes, mode, unique_indices):
        out = operand.copy()
        if indices.size == 0 or operand.size == 0:
            return out
        cols, valid = _locate(xp, operand.shape, indices, axes, mode)
        if valid is not None:   # 'fill' and 'promise_in_bounds' drop out-of-bounds rows
            cols = tuple(c[valid] for c in cols)
            updates = updates[valid]
        target = xp.transpose(out, _moved_first(out.ndim, axes))   # a view of `out`
        _ufunc_at(xp, kind, target, cols, updates)
        return out
    return impl


def _scatter_batch(p):
    def rule(args, dims, axes, mode, unique_indices):
        operand, indices, updates = args
        d_op, d_idx, d_up = dims
        size = common.batch_size(args, dims)
        x = common.move_batch_axis(operand, d_op, 0, size)
        n_b = common.aval_of(indices).ndim - 1 - (d_idx is not None)
        if d_idx is None:
            # Shared indices: the batch axis is one more whole axis, first of the rest.
            u = common.move_batch_axis(updates, d_up, n_b, size)
            return p.bind(x, indices, u, axes=tuple(a + 1 for a in axes), mode=mode,
                          unique_indices=unique_indices), 0
        idx = _prepend_iota(common.move_batch_axis(indices, d_idx, 0), size)
        u = common.move_batch_axis(updates, d_up, 0, size)
        return p.bind(x, idx, u, axes=(0,) + tuple(a + 1 for a in axes), mode=mode,
                      unique_indices=unique_indices), 0
    return rule


def _define_scatter(name, kind):
    p = common.define(name, _scatter_abstract(name), _scatter_impl(kind))
    p.batch = _scatter_batch(p)
    p.kind = kind
    return p


scatter_p = _define_scatter('scatter', 'set')
scatter_add_p = _define_scatter('scatter-add', 'add')
scatter_mul_p = _define_scatter('scatter-mul', 'mul')
scatter_min_p = _define_scatter('scatter-min', 'min')
scatter_max_p = _define_scatter('scatter-max', 'max')
SCATTERS = {'set': scatter_p, 'add': scatter_add_p, 'mul': scatter_mul_p,
            'min': scatter_min_p, 'max': scatter_max_p}


def scatter(operand, indices, updates, axes, mode='fill', kind='set', unique_indices=False):
    return SCATTERS[kind].bind(operand, indices, updates, axes=tuple(int(a) for a in axes),
                               mode=mode, unique_indices=bool(unique_indices))


def _read_back(x, indices, axes, mode):
    """gather that gives zero where the matching scatter would have dropped the update."""
    return gather(x, indices, axes, 'fill' if mode == 'fill' else mode, 0)


# scatter-add is linear in (operand, updates).
def _scatter_add_jvp(primals, tangents, **params):
    operand, indices, updates = primals
    out = scatter_add_p.bind(*primals, **params)
    t_op, t_up = tangents[0], tangents[2]
    if t_op is None and t_up is None:
        return out, None
    return out, scatter_add_p.bind(_inst(t_op, operand), indices, _inst(t_up, updates), **params)


def _scatter_add_transpose(ct, operand, indices, updates, axes, mode, unique_indices):
    if ct is None:
        return [None, None, None]
    ct_up = _read_back(ct, indices, axes, mode) if _is_undefined(updates) else None
    return [ct if _is_undefined(operand) else None, None, ct_up]


scatter_add_p.jvp, scatter_add_p.transpose = _scatter_add_jvp, _scatter_add_transpose


# scatter (set): the operand's tangent is replaced where an update landed. With
# duplicate indices one update wins; to give the tangent of the same winner, scatter
# each update's id and read back which id won each location.
def _scatter_jvp(primals, tangents, axes, mode, unique_indices):
    operand, indices, updates = primals
    params = dict(axes=axes, mode=mode, unique_indices=unique_indices)
    out = scatter_p.bind(*primals, **params)
    t_op, t_up = tangents[0], tangents[2]
    if t_op is None and t_up is None:
        return out, None
    t_op, t_up = _inst(t_op, operand), _inst(t_up, updates)
    if unique_indices:
        return out, scatter_p.bind(t_op, indices, t_up, **params)
    op_a, up_a, idx_a = (common.aval_of(v) for v in (operand, updates, indices))
    dt = dtypes.default_int()
    n_b = idx_a.ndim - 1
    # Number the update rows 1.. in row-major order (0 marks "no update landed").
    n_rows = int(np.prod(up_a.shape[:n_b]))
    ids = structural.reshape(ew.add(structural.iota(dt, n_rows), _index_scalar(1, dt)),
                             up_a.shape[:n_b])
    ids = structural.broadcast_in_dim(ids, up_a.shape, tuple(range(n_b)))
    won = scatter_p.bind(common.full(op_a.shape, 0, dt), indices, ids, **params)
    winner = ew.eq(gather(won, indices, axes, 'clip'), ids)
    untouched = ew.eq(won, common.full(op_a.shape, 0, dt))
    kept = ew.select_n(untouched, common.zeros_like(t_op), t_op)
    landed = ew.select_n(winner, common.zeros_like(t_up), t_up)
    return out, ew.add(kept, scatter_add_p.bind(common.zeros_like(t_op), indices, landed,
                                                **params))


def _scatter_transpose(ct, operand, indices, updates, axes, mode, unique_indices):
    if not unique_indices:
        raise NotImplementedError('scatter transpose is only implemented where '
                                  'unique_indices=True')
    if ct is None:
        return [None, None, None]
    params = dict(axes=axes, mode=mode, unique_indices=unique_indices)
    u_aval = updates.aval if _is_undefined(updates) else common.aval_of(updates)
    ct_op = scatter_p.bind(ct, indices, common.zeros(u_aval), **params) \
        if _is_undefined(operand) else None
    ct_up = _read_back(ct, indices, axes, mode) if _is_undefined(updates) else None
    return [ct_op, None, ct_up]


scatter_p.jvp, scatter_p.transpose = _scatter_jvp, _scatter_transpose


# scatter-mul: linear in the operand (a product mask multiplies it).
def _scatter_mul_jvp(primals, tangents, axes, mode, unique_indices):
    operand, indices, updates = primals
    params = dict(axes=axes, mode=mode, unique_indices=unique_indices)
    out = scatter_mul_p.bind(*primals, **params)
    t_op, t_up = tangents[0], tangents[2]
    parts = []
    if t_op is not None:
        parts.append(scatter_mul_p.bind(t_op, indices, updates, **params))
    if t_up is not None:
        if not unique_indices:
            raise NotImplementedError('scatter_mul gradients are only implemented if '
                                      '`unique_indices=True`')
        spread = scatter_add_p.bind(common.zeros(common.aval_of(operand).strip_weak()),
                                    indices, t_up, **params)
        parts.append(ew.mul(operand, spread))
    if not parts:
        return out, None
    return out, parts[0] if len(parts) == 1 else ew.add(*parts)


def _scatter_mul_transpose(ct, operand, indices, updates, axes, mode, unique_indices):
    if _is_undefined(updates):
        raise NotImplementedError('scatter_mul transpose is only implemented with respect '
                                  'to the operand')
    if ct is None:
        return [None, None, None]
    return [scatter_mul_p.bind(ct, indices, updates, axes=axes, mode=mode,
                               unique_indices=unique_indices), None, None]


scatter_mul_p.jvp, scatter_mul_p.transpose = _scatter_mul_jvp, _scatter_mul_transpose


# scatter-min / scatter-max: each location's tangent is the mean of the tangents of all
# values that attain the result there (the operand and/or updates), as JAX does.
def _scatter_extremum_jvp(p):
    def rule(primals, tangents, axes, mode, unique_indices):
        operand, indices, updates = primals
        params = dict(axes=axes, mode=mode, unique_indices=unique_indices)
        out = p.bind(*primals, **params)
        t_op, t_up = tangents[0], tangents[2]
        if t_op is None and t_up is None:
            return out, None
        t_op, t_up = _inst(t_op, operand), _inst(t_up, updates)
        dt = common.aval_of(out).dtype
        op_win = ew.convert(ew.eq(operand, out), dt)
        up_win = ew.convert(ew.eq(updates, gather(out, indices, axes, 'clip')), dt)
        zeros = common.zeros(common.aval_of(out).strip_weak())
        count = ew.add(op_win, scatter_add_p.bind(zeros, indices, up_win, **params))
        total = ew.add(ew.mul(t_op, op_win),
                       scatter_add_p.bind(zeros, indices, ew.mul(t_up, up_win), **params))
        return out, ew.div(total, count)
    return rule


scatter_min_p.jvp = _scatter_extremum_jvp(scatter_min_p)
scatter_max_p.jvp = _scatter_extremum_jvp(scatter_max_p)


# --- user-level wrappers --------------------------------------------------------------
def _index_arg(i):
    if isinstance(i, (int, np.integer)) and not isinstance(i, bool):
        return common.scalar(int(i), dtypes.default_int())
    return i


def dynamic_slice(operand, start_indices, slice_sizes):
    starts = [_index_arg(s) for s in start_indices]
    return dynamic_slice_p.bind(operand, *starts, slice_sizes=tuple(int(s) for s in slice_sizes))


def dynamic_update_slice(operand, update, start_indices):
    starts = [_index_arg(s) for s in start_indices]
    return dynamic_update_slice_p.bind(operand, update, *starts)
