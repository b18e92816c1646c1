"""Sorting, searching and cumulative functions of tinyjax.numpy, with JAX's semantics:
stable sorts with NaNs last, descending sorts that keep ties in input order, cumulative
sums of booleans in the default int type, and `unique` that works under jit with size=."""
from collections import namedtuple

import numpy as np

from tinyjax import dtypes, errors, lax
from tinyjax.core.array import Array
from tinyjax.core.trace import Tracer
from tinyjax.numpy.conversion import asarray, canonicalize_axis, promote
from tinyjax.ops import sorting as sort_ops

__all__ = ['sort', 'argsort', 'lexsort', 'partition', 'argpartition', 'sort_complex',
           'searchsorted', 'cumsum', 'cumprod', 'cumulative_sum', 'cumulative_prod',
           'nancumsum', 'nancumprod', 'unique', 'unique_values', 'unique_counts',
           'unique_inverse', 'unique_all']


def _check_arraylike(name, *args):
    # JAX refuses lists here (an implicit conversion would hide a copy); so do we.
    for i, a in enumerate(args):
        if isinstance(a, (list, tuple)):
            raise TypeError(f'{name} requires ndarray or scalar arguments, got '
                            f'{type(a)} at position {i}.')


def _index_dtype():
    return dtypes.default_int()


def _flatten_or_axis(x, axis, name):
    if axis is None:
        return lax.reshape(x, (x.size,)), 0
    return x, canonicalize_axis(axis, x.ndim, name)


def _sorted_with(x, axis, descending, extra=()):
    """Sort x and `extra` operands by x along axis; descending keeps ties in input order."""
    ops = [x, *extra]
    if descending:
        # Reverse, sort ascending stably, reverse back: the last equal key of the reversed
        # input is the first of the original, so ties keep their input order.
        ops = [lax.rev(o, (axis,)) for o in ops]
    outs = sort_ops.sort(ops, axis, True, 1)
    return [lax.rev(o, (axis,)) for o in outs] if descending else outs


def _check_kind(kind, order, name):
    if kind is not None:
        raise TypeError(f"'kind' argument to {name} is not supported. Use stable=True or "
                        'stable=False to specify sort stability.')
    if order is not None:
        raise TypeError(f"'order' argument to {name} is not supported.")


def sort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    _check_arraylike('sort', a)
    _check_kind(kind, order, 'sort')
    x, axis = _flatten_or_axis(asarray(a), axis, 'sort')
    out = sort_ops.sort([lax.convert_element_type(x, x.dtype)], axis, True, 1)[0]
    # JAX reverses the ascending sort here, so equal values come out in reverse input
    # order (unlike argsort's descending); it shows in gradients and NaN/zero signs.
    return lax.rev(out, (axis,)) if descending else out


def argsort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    _check_arraylike('argsort', a)
    _check_kind(kind, order, 'argsort')
    x, axis = _flatten_or_axis(asarray(a), axis, 'argsort')
    index = lax.broadcasted_iota(_index_dtype(), x.shape, axis)
    return _sorted_with(x, axis, descending, (index,))[1]


def sort_complex(a):
    _check_arraylike('sort_complex', a)
    x = sort(a, axis=0)
    dt = dtypes.canonicalize(np.result_type(x.dtype, np.complex64))
    return lax.convert_element_type(x, dt)


def lexsort(keys, axis=-1):
    """Indices that sort by the last key first, then the one before it, and so on."""
    if isinstance(keys, Array):   # a 2-d array: one key per row
        keys = [lax.squeeze(lax.slice_in_dim(keys, i, i + 1, 1, 0), (0,))
                for i in range(keys.shape[0])]
    keys = list(keys)
    if not keys:
        raise TypeError('need sequence of keys with len > 0 in lexsort')
    keys = [asarray(k) for k in keys]
    if len({k.shape for k in keys}) > 1:
        raise ValueError('all keys need to be the same shape')
    if keys[0].ndim == 0:
        return asarray(np.asarray(0, _index_dtype()))
    axis = canonicalize_axis(axis, keys[0].ndim, 'lexsort')
    index = lax.broadcasted_iota(_index_dtype(), keys[0].shape, axis)
    return sort_ops.sort(keys[::-1] + [index], axis, True, len(keys))[-1]


def _kth(kth, n, name):
    if not -n <= int(kth) < n:
        raise ValueError(f'{name}: kth={kth} is out of bounds for an axis of size {n}')
    return int(kth) % n


def _last_axis_apply(x, axis, fn):
    """Run fn on x with `axis` moved last (top_k works on the last axis), then move back."""
    x = asarray(x)
    axis = canonicalize_axis(axis, x.ndim, 'partition')
    perm = [i for i in range(x.ndim) if i != axis] + [axis]
    out = fn(lax.transpose(x, perm))
    return lax.transpose(out, tuple(np.argsort(perm)))


def partition(a, kth, axis=-1):
    """The kth+1 smallest entries first (ascending), the rest after them (descending):
    JAX's arrangement, from two top_k calls."""
    _check_arraylike('partition', a)

    def part(x):
        n = x.shape[-1]
        k = _kth(kth, n, 'partition')
        bottom = lax.neg(lax.top_k(lax.neg(x), k + 1)[0])
        top = lax.top_k(x, n - k - 1)[0]
        return lax.concatenate([bottom, top], x.ndim - 1)
    return _last_axis_apply(a, axis, part)


def argpartition(a, kth, axis=-1):
    """Indices of the kth+1 smallest entries (ascending), then the others in input order."""
    _check_arraylike('argpartition', a)

    def part(x):
        n, last = x.shape[-1], x.ndim - 1
        k = _kth(kth, n, 'argpartition')
        order = lax.top_k(lax.neg(x), n)[1]            # all indices, smallest first
        rank = sort_ops.inverse_permutation(order, last)
        inside = lax.lt(rank, asarray(np.asarray(k + 1, rank.dtype)))
        index = lax.broadcasted_iota(order.dtype, x.shape, last)
        rest = sort_ops.sort([inside, index], last, True, 1)[1]   # outsiders first, in order
        return lax.concatenate([lax.slice_in_dim(order, 0, k + 1, 1, last),
                                lax.slice_in_dim(rest, 0, n - k - 1, 1, last)], last)
    return _last_axis_apply(a, axis, part)


def _isnan(x):
    return lax.ne(x, x)


def searchsorted(a, v, side='left', sorter=None, *, method='scan'):
    """Insertion points of v into sorted 1-d a, in sort order (NaNs last).

    Counts the entries of a before each v (all pairs compared), which runs unchanged
    under jit, vmap and grad; memory is len(a) * v.size.
    """
    _check_arraylike('searchsorted', a, v)
    if side not in ('left', 'right'):
        raise ValueError(f"invalid argument side={side!r}, expected 'left' or 'right'")
    a, v = asarray(a), asarray(v)
    if a.ndim != 1:
        raise ValueError('a should be 1-dimensional')
    if sorter is not None:
        a = sort_ops.permute(a, asarray(sorter), 0)
    a, v = promote(a, v)
    n = a.shape[0]
    out_shape = v.shape + (n,)
    av = lax.broadcast_in_dim(a, out_shape, (v.ndim,))
    vv = lax.broadcast_in_dim(v, out_shape, tuple(range(v.ndim)))
    if side == 'left':
        before = lax.lt(av, vv)
        if dtypes.is_float(a.dtype):    # a non-NaN entry sorts before a NaN
            before = lax.bitwise_or(before, lax.bitwise_and(_isnan(vv), lax.bitwise_not(_isnan(av))))
    else:
        before = lax.le(av, vv)
        if dtypes.is_float(a.dtype):    # everything sorts at or before a NaN
            before = lax.bitwise_or(before, _isnan(vv))
    counts = lax.convert_element_type(before, np.int32)
    return lax.reduce_sum(counts, (v.ndim,))


# --- cumulative sums and products -----------------------------------------------------
def _cum_dtype(x, dtype, small_ints_to_default):
    if dtype is not None:
        return dtypes.canonicalize(np.dtype(dtype))
    if x.dtype == dtypes.bool_:
        return dtypes.default_int()
    if small_ints_to_default:
        from tinyjax.numpy.reductions import _sum_dtype
        return _sum_dtype(x, None)
    return x.dtype


def _cumulative(name, op, x, axis, dtype, small_ints_to_default=False):
    x = asarray(x)
    x, axis = _flatten_or_axis(x, axis, name)
    dt = _cum_dtype(x, dtype, small_ints_to_default)
    if dt == dtypes.bool_:
        # A boolean running sum is a running "any" (product: "all"): count in ints, test.
        counts = op(lax.convert_element_type(lax.convert_element_type(x, dt), np.int32), axis)
        return lax.ne(counts, asarray(np.asarray(0, np.int32)))
    return op(lax.convert_element_type(x, dt), axis)


def cumsum(a, axis=None, dtype=None, out=None):
    _check_arraylike('cumsum', a)
    return _cumulative('cumsum', sort_ops.cumsum, a, axis, dtype)


def cumprod(a, axis=None, dtype=None, out=None):
    _check_arraylike('cumprod', a)
    return _cumulative('cumprod', sort_ops.cumprod, a, axis, dtype)


def _nan_to(a, value):
    x = asarray(a)
    if not dtypes.is_inexact(x.dtype):
        return x
    return lax.select(_isnan(x), lax.broadcast_in_dim(_const(value, x.dtype), x.shape, ()), x)


def nancumsum(a, axis=None, dtype=None, out=None):
    _check_arraylike('nancumsum', a)
    return _cumulative('nancumsum', sort_ops.cumsum, _nan_to(a, 0), axis, dtype)


def nancumprod(a, axis=None, dtype=None, out=None):
    _check_arraylike('nancumprod', a)
    return _cumulative('nancumprod', sort_ops.cumprod, _nan_to(a, 1), axis, dtype)


def _cumulative_api(name, op, identity, x, axis, dtype, include_initial):
    _check_arraylike(name, x)
    x = asarray(x)
    if x.ndim == 0:
        raise ValueError('The input must be non-scalar to take a cumulative '
                         f'{name.split("_")[1]}, however a scalar value or scalar array '
                         'was given.')
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f'The input array has rank {x.ndim}, however axis was not set '
                             'to an explicit value. The axis argument is only optional for '
                             'one-dimensional arrays.')
        axis = 0
    axis = canonicalize_axis(axis, x.ndim, name)
    out = _cumulative(name, op, x, axis, dtype, small_ints_to_default=True)
    if include_initial:
        config = [(0, 0, 0)] * out.ndim
        config[axis] = (1, 0, 0)
        out = lax.pad(out, asarray(np.asarray(identity, out.dtype)), config)
    return out


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative_api('cumulative_sum', sort_ops.cumsum, 0, x, axis, dtype, include_initial)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative_api('cumulative_prod', sort_ops.cumprod, 1, x, axis, dtype, include_initial)


# --- unique ---------------------------------------------------------------------------
def _resize(x, size):
    """First `size` entries of 1-d x, padded with x[0] when x is shorter."""
    n = x.shape[0]
    if size <= n:
        return lax.slice_in_dim(x, 0, size, 1, 0)
    head = lax.broadcast_in_dim(lax.slice_in_dim(x, 0, 1, 1, 0), (size - n,), (0,))
    return lax.concatenate([x, head], 0)


def _const(value, dtype):
    return asarray(np.asarray(value, dtype))


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None,
           *, equal_nan=True, size=None, fill_value=None, sorted=True):
    """Sorted unique values; with size= the output has that length (padded with
    fill_value, default the smallest value) and works on traced input."""
    _check_arraylike('unique', ar)
    x = asarray(ar)
    if axis is not None:
        return _unique_along_axis(x, axis, return_index, return_inverse, return_counts,
                                  equal_nan, size, fill_value)
    idt = _index_dtype()
    n = x.size
    flat = lax.reshape(x, (n,))
    if n == 0:
        return _unique_empty(x, size, fill_value, return_index, return_inverse, return_counts)
    index = lax.broadcasted_iota(idt, (n,), 0)
    values, perm = sort_ops.sort([flat, index], 0, True, 1)
    prev, cur = lax.slice_in_dim(values, 0, n - 1, 1, 0), lax.slice_in_dim(values, 1, n, 1, 0)
    differs = lax.ne(prev, cur)
    if equal_nan and dtypes.is_inexact(x.dtype):
        differs = lax.bitwise_and(differs, lax.bitwise_not(
            lax.bitwise_and(_isnan(prev), _isnan(cur))))
    starts = lax.concatenate([_const([True], dtypes.bool_), differs], 0)
    num = lax.reduce_sum(lax.convert_element_type(starts, idt), (0,))
    if size is None:
        if isinstance(num, Tracer) and num.concrete is None:
            raise errors.ConcretizationTypeError(
                num, 'the number of unique values in jnp.unique() (pass size= to use it '
                'under jit)')
        size = int(num)
    # One stable sort moves each group's first entry to the front, in order.
    group_of = lax.sub(sort_ops.cumsum(lax.convert_element_type(starts, idt), 0),
                       _const(1, idt))
    _, first_vals, first_idx, start_pos = sort_ops.sort(
        [lax.bitwise_not(starts), values, perm, index], 0, True, 1)
    valid = lax.lt(lax.broadcasted_iota(idt, (size,), 0), lax.broadcast_in_dim(num, (size,), ()))
    uniq = _resize(first_vals, size)
    fill = lax.slice_in_dim(uniq, 0, 1, 1, 0) if fill_value is None else \
        lax.broadcast_in_dim(_const(fill_value, x.dtype), (1,), ())
    uniq = lax.select(valid, uniq, lax.broadcast_in_dim(lax.reshape(fill, ()), (size,), ()))
    out_index = out_inverse = out_counts = None
    if return_index:
        out_index = _resize(first_idx, size)
        out_index = lax.select(valid, out_index, lax.broadcast_in_dim(
            lax.reshape(lax.slice_in_dim(out_index, 0, 1, 1, 0), ()), (size,), ()))
    if return_inverse:
        inverse = sort_ops.permute(group_of, sort_ops.inverse_permutation(perm, 0), 0)
        out_inverse = lax.reshape(inverse, x.shape)
    if return_counts:
        ends = lax.concatenate([lax.slice_in_dim(start_pos, 1, n, 1, 0), _const([n], idt)], 0)
        has_next = lax.lt(lax.add(index, _const(1, idt)), lax.broadcast_in_dim(num, (n,), ()))
        ends = lax.select(has_next, ends, lax.broadcast_in_dim(_const(n, idt), (n,), ()))
        counts = _resize(lax.sub(ends, start_pos), size)
        out_counts = lax.select(valid, counts, lax.broadcast_in_dim(_const(0, idt), (size,), ()))
    return _unique_result(uniq, out_index, out_inverse, out_counts)


def _unique_empty(x, size, fill_value, return_index, return_inverse, return_counts):
    if size and fill_value is None:
        raise ValueError('jnp.unique: for zero-sized input with nonzero size argument, '
                         'fill_value must be specified')
    values = lax.reshape(x, (0,))
    if size:
        values = lax.broadcast_in_dim(_const(fill_value, x.dtype), (size,), ())
    empty = lax.broadcasted_iota(_index_dtype(), (0,), 0)
    return _unique_result(values, empty if return_index else None,
                          lax.reshape(empty, x.shape) if return_inverse else None,
                          empty if return_counts else None)


def _unique_result(values, index, inverse, counts):
    extras = [e for e in (index, inverse, counts) if e is not None]
    return (values, *extras) if extras else values


def _unique_along_axis(x, axis, return_index, return_inverse, return_counts, equal_nan,
                       size, fill_value):
    # Unique slices need a lexicographic sort of whole slices: done on the host, so the
    # input must be concrete (as JAX requires without size=).
    if isinstance(x, Tracer) and x.concrete is None:
        raise errors.ConcretizationTypeError(x, 'jnp.unique(..., axis=) on a traced array')
    value = np.asarray(x.concrete if isinstance(x, Tracer) else x)
    axis = canonicalize_axis(axis, x.ndim, 'unique')
    res = np.unique(value, return_index=True, return_inverse=True, return_counts=True,
                    axis=axis, equal_nan=equal_nan)
    uniq, index, inverse, counts = res
    idt = _index_dtype()
    if size is not None:
        k = uniq.shape[axis]
        take = np.minimum(np.arange(size), max(k - 1, 0))
        pad = np.arange(size) >= k
        uniq = np.take(uniq, take if k else np.zeros(size, int), axis=axis)
        if fill_value is not None and pad.any():
            sel = [slice(None)] * uniq.ndim
            sel[axis] = pad
            uniq[tuple(sel)] = fill_value
        elif pad.any():
            sel = [slice(None)] * uniq.ndim
            sel[axis] = pad
            uniq[tuple(sel)] = np.take(uniq, [0], axis=axis)
        index = np.where(pad, index[0] if k else 0, index[take])
        counts = np.where(pad, 0, counts[take])
    out = [asarray(uniq)]
    if return_index:
        out.append(asarray(index.astype(idt)))
    if return_inverse:
        out.append(asarray(inverse.reshape(-1).astype(idt)))
    if return_counts:
        out.append(asarray(counts.astype(idt)))
    return out[0] if len(out) == 1 else tuple(out)


UniqueAllResult = namedtuple('UniqueAllResult', 'values indices inverse_indices counts')
UniqueCountsResult = namedtuple('UniqueCountsResult', 'values counts')
UniqueInverseResult = namedtuple('UniqueInverseResult', 'values inverse_indices')


def unique_values(x, /, *, size=None, fill_value=None):
    return unique(x, size=size, fill_value=fill_value)


def unique_counts(x, /, *, size=None, fill_value=None):
    return UniqueCountsResult(*unique(x, return_counts=True, size=size, fill_value=fill_value))


def unique_inverse(x, /, *, size=None, fill_value=None):
    return UniqueInverseResult(*unique(x, return_inverse=True, size=size, fill_value=fill_value))


def unique_all(x, /, *, size=None, fill_value=None):
    return UniqueAllResult(*unique(x, return_index=True, return_inverse=True, return_counts=True,
                                   size=size, fill_value=fill_value))
