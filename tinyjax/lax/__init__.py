"""tinyjax.lax: thin functions that bind primitives (JAX's lax API)."""
import numpy as np

from tinyjax import dtypes, tree_util
from tinyjax.ops.elementwise import (  # noqa: F401
    neg, sign, floor, ceil, round, is_finite, exp, exp2, log, log1p, expm1, tanh, logistic,
    sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, sqrt, rsqrt, cbrt,
    erf, erf_inv, abs, square, integer_pow, add, sub, mul, div, rem, pow, max, min, atan2,
    nextafter, bitwise_and, bitwise_or, bitwise_xor, bitwise_not, clz, population_count, shift_left,
    shift_right_arithmetic, shift_right_logical, eq, ne, lt, le, gt, ge, select_n, clamp)
from tinyjax.ops.elementwise import convert as _convert
from tinyjax.ops.complex_parts import real, imag, conj, complex_ as complex  # noqa: F401
from tinyjax.ops.structural import (  # noqa: F401
    broadcast_in_dim, reshape as _reshape, transpose, squeeze, expand_dims, rev, slice,
    slice_in_dim, pad, concatenate, iota, broadcasted_iota)
from tinyjax.ops.reduction import (  # noqa: F401
    reduce_sum, reduce_max, reduce_min, reduce_prod, reduce_and, reduce_or, argmax, argmin)
from tinyjax.ops.dot_general import dot_general  # noqa: F401
from tinyjax.ops.layout import with_sharding_constraint  # noqa: F401
from tinyjax.ops.conv import ConvDimensionNumbers  # noqa: F401
from tinyjax.lax.conv import (  # noqa: F401
    conv_dimension_numbers, conv_general_dilated, conv, conv_with_general_padding,
    conv_transpose, padtype_to_pads)
from tinyjax.lax.windowed import reduce_window  # noqa: F401
from tinyjax.lax.shape_tuples import (  # noqa: F401
    conv_general_shape_tuple, conv_transpose_shape_tuple, reduce_window_shape_tuple)
from tinyjax.ops.special import lgamma, erfc  # noqa: F401
from tinyjax.ops.fft import fft  # noqa: F401
from tinyjax.ops.precision import Precision  # noqa: F401
from tinyjax.interpreters import batching as _batching
from tinyjax.ops import collectives as _collectives, common as _common, custom as _custom

not_ = bitwise_not
and_, or_, xor = bitwise_and, bitwise_or, bitwise_xor


def convert_element_type(operand, new_dtype):
    return _convert(operand, dtypes.canonicalize(new_dtype))


def reshape(operand, new_sizes, dimensions=None):
    if dimensions is not None:
        operand = transpose(operand, dimensions)
    return _reshape(operand, new_sizes)


def select(pred, on_true, on_false):
    return select_n(pred, on_false, on_true)


def broadcast(operand, sizes):
    shape = tuple(sizes) + _common.aval_of(operand).shape
    return broadcast_in_dim(operand, shape, tuple(range(len(sizes), len(shape))))


def dot(lhs, rhs, precision=None, preferred_element_type=None, out_sharding=None):
    nl = _common.aval_of(lhs).ndim
    return dot_general(lhs, rhs, (((nl - 1,), (0,)), ((), ())), precision, preferred_element_type,
                       out_sharding)


def stop_gradient(x):
    return tree_util.tree_map(_custom.stop_gradient, x)


# --- sorting and cumulative reductions (tinyjax/ops/sorting.py) -----------------------
from tinyjax.ops.sorting import (  # noqa: E402,F401
    cumsum, cumprod, cummax, cummin, cumlogsumexp)


def sort(operand, dimension=-1, is_stable=True, num_keys=1):
    """lax.sort: an array, or a sequence of arrays sorted together by the first num_keys."""
    if isinstance(operand, (list, tuple)):
        if not operand:
            raise TypeError('Sort requires at least one operand')
        if num_keys < 1 or num_keys > len(operand):
            raise ValueError(f'num_keys={num_keys} must be between 1 and '
                             f'len(operand)={len(operand)}')
        return tuple(_sorting.sort(operand, dimension, is_stable, num_keys))
    if num_keys != 1:
        raise ValueError(f'num_keys={num_keys} must be between 1 and len(operand)=1')
    return _sorting.sort([operand], dimension, is_stable, 1)[0]


def sort_key_val(keys, values, dimension=-1, is_stable=True):
    k, v = _sorting.sort([keys, values], dimension, is_stable, 1)
    return k, v


def top_k(operand, k):
    """The k largest entries along the last axis, largest first, and their int32 indices.

    Floats order by IEEE totalOrder here (NaN largest, 0.0 above -0.0), as JAX's top_k;
    equal entries keep their input order. Built on a stable ascending sort of the
    reversed row, reversed back.
    """
    aval = _common.aval_of(operand)
    k = int(k)
    if k < 0:
        raise ValueError(f'k argument to top_k must be nonnegative, got {k}')
    axis = _common.normalize_axis(-1, aval.ndim, 'top_k')
    n = aval.shape[axis]
    if k > n:
        raise ValueError(f'k argument to top_k must be no larger than size along axis; got '
                         f'k={k} with shape={list(aval.shape)} and axis={axis}')
    key = _sorting.total_order_key(operand) if dtypes.is_float(aval.dtype) else operand
    index = broadcasted_iota(np.int32, aval.shape, axis)
    flipped = [rev(v, (axis,)) for v in (key, index, operand)]
    _, idx, vals = _sorting.sort(flipped, axis, True, 1)
    vals, idx = rev(vals, (axis,)), rev(idx, (axis,))
    return [slice_in_dim(vals, 0, k, 1, axis), slice_in_dim(idx, 0, k, 1, axis)]


# --- collectives over named axes (vmap's axis_name; pmap's too) -------------------------
def _tree(f, x):
    return tree_util.tree_map(f, x)


def _axes(axis_name):
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def _psum(v, names):
    # Inside a shard_map body a psum reduces what varies or, over axes along which v is
    # the same everywhere, multiplies by their size; JAX refuses a mix of the two.
    vma, typed = _common.aval_of(v).vma, _batching.typed_axes()
    states = {n in vma for n in names if n in typed}
    if len(states) > 1:
        raise ValueError(f'jax.lax.psum can only accept axis_name which corresponds to one of '
                         f'varying, unreduced, reduced or invarying state of the input. Got '
                         f'input type: {_common.aval_of(v)}, axes: {names}; psum the varying '
                         'axes and the others separately, or pvary the input first.')
    return _collectives.psum_p.bind(v, axis_name=names)


def psum(x, axis_name, *, axis_index_groups=None):
    return _tree(lambda v: _psum(v, _axes(axis_name)), x)


def pmean(x, axis_name, *, axis_index_groups=None):
    n = 1
    for name in _axes(axis_name):
        n *= _batching.axis_frame(name) or 1

    def mean(v):
        s = _psum(v, _axes(axis_name))
        return div(s, _common.scalar(n, s.dtype))
    return _tree(mean, x)


def pmax(x, axis_name, *, axis_index_groups=None):
    return _tree(lambda v: _collectives.pmax_p.bind(v, axis_name=_axes(axis_name)), x)


def pmin(x, axis_name, *, axis_index_groups=None):
    return _tree(lambda v: _collectives.pmin_p.bind(v, axis_name=_axes(axis_name)), x)


def all_gather(x, axis_name, *, axis=0, tiled=False, axis_index_groups=None):
    return _tree(lambda v: _collectives.all_gather_p.bind(v, axis_name=axis_name, axis=int(axis), tiled=bool(tiled)), x)


def psum_scatter(x, axis_name, *, scatter_dimension=0, tiled=False, axis_index_groups=None):
    return _tree(lambda v: _collectives.psum_scatter_p.bind(v, axis_name=axis_name,
                                               scatter_dimension=int(scatter_dimension),
                                               tiled=bool(tiled)), x)


def axis_index(axis_name):
    return _collectives.axis_index_p.bind(axis_name=axis_name)


def pvary(x, axis_name):
    """x, marked as varying along the mesh axes `axis_name` inside a shard_map body (the
    values are unchanged; `jax.typeof(x).vma` gains the axes). Its transpose is a psum."""
    axes = _axes(axis_name)
    _collectives.check_bound(axes, 'pvary')

    def one(v):
        have = _common.aval_of(v).vma & set(axes)
        if have:
            raise ValueError(f'pvary casts an invariant value to a varying one, but '
                             f'{_common.aval_of(v)} already varies along '
                             f'{tuple(sorted(have, key=str))}; pass only axes not in '
                             'jax.typeof(x).vma.')
        return _collectives.pvary_p.bind(v, axes=axes)
    return _tree(one, x) if axes else x


def pcast(x, axis_name, *, to):
    """Change how x relates to the mesh axes `axis_name` inside a shard_map body. tinyjax
    types values as varying or invariant (not JAX's reduced/unreduced), so the one cast
    is to='varying', pvary's."""
    if to != 'varying':
        raise ValueError(f"pcast: to={to!r} is not a type tinyjax tracks; values inside "
                         "shard_map are varying or invariant, so use to='varying'")
    return pvary(x, axis_name)


def axis_size(axis_name):
    """The size of a named axis (of an enclosing vmap, pmap or shard_map mesh), as a
    Python int; a tuple of names gives the product."""
    names = _axes(axis_name)
    _collectives.check_bound(names, 'axis_size')
    return int(np.prod([_batching.axis_frame(n) for n in names]))


# --- indexing: dynamic slices, gather and scatter (tinyjax/ops/indexing.py) -----------
# gather/scatter here take tinyjax's simple form, not XLA's dimension numbers:
# `indices` is int[*batch, len(axes)] and selects along `axes`; every other operand axis
# is taken whole. See ops/indexing.py.
from tinyjax.ops import indexing as _indexing, sorting as _sorting  # noqa: E402


def _wrapped_starts(operand, start_indices):
    """Negative start indices count from the end (once); the primitive then clamps."""
    shape = _common.aval_of(operand).shape
    if len(start_indices) != len(shape):
        raise ValueError(f'dynamic_slice: need one start index per axis of the operand {shape}, '
                         f'got {len(start_indices)}')
    out = []
    for i, n in zip(start_indices, shape):
        if isinstance(i, (int, np.integer)):
            out.append(_common.scalar(int(i) + n if i < 0 else int(i), dtypes.default_int()))
            continue
        dt = _common.aval_of(i).dtype
        if dtypes.is_unsigned(dt):
            out.append(i)
            continue
        out.append(select_n(lt(i, _common.scalar(0, dt)), i, add(i, _common.scalar(n, dt))))
    return out


def dynamic_slice(operand, start_indices, slice_sizes):
    return _indexing.dynamic_slice(operand, _wrapped_starts(operand, start_indices), slice_sizes)


def dynamic_update_slice(operand, update, start_indices):
    return _indexing.dynamic_update_slice(operand, update,
                                          _wrapped_starts(operand, start_indices))


def _index_axis(operand, axis):
    return _common.normalize_axis(int(axis), _common.aval_of(operand).ndim, 'index')


def _int_index(i):
    if isinstance(i, (int, np.integer)):
        return _common.scalar(int(i), dtypes.default_int())
    return i


def dynamic_slice_in_dim(operand, start_index, slice_size, axis=0):
    shape = _common.aval_of(operand).shape
    axis = _index_axis(operand, axis)
    start = _int_index(start_index)
    zero = _common.scalar(0, _common.aval_of(start).dtype)
    starts = [start if d == axis else zero for d in range(len(shape))]
    sizes = [int(slice_size) if d == axis else s for d, s in enumerate(shape)]
    return dynamic_slice(operand, starts, sizes)


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True):
    axis = _index_axis(operand, axis)
    out = dynamic_slice_in_dim(operand, index, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


def dynamic_update_slice_in_dim(operand, update, start_index, axis):
    axis = _index_axis(operand, axis)
    start = _int_index(start_index)
    zero = _common.scalar(0, _common.aval_of(start).dtype)
    return dynamic_update_slice(operand, update, [start if d == axis else zero
                                                  for d in range(_common.aval_of(operand).ndim)])


def dynamic_update_index_in_dim(operand, update, index, axis):
    axis = _index_axis(operand, axis)
    if _common.aval_of(update).ndim == _common.aval_of(operand).ndim - 1:
        update = expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(operand, update, index, axis)


def index_in_dim(operand, index, axis=0, keepdims=True):
    """Static index: a Python int, negative counting from the end; out of range raises."""
    axis = _index_axis(operand, axis)
    n = _common.aval_of(operand).shape[axis]
    i = int(index)
    if not -n <= i < n:
        raise IndexError(f'index {i} is out of bounds for axis {axis} with size {n}')
    i %= n
    out = slice_in_dim(operand, i, i + 1, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


def gather(operand, indices, axes, mode='promise_in_bounds', fill_value=None):
    return _indexing.gather(operand, indices, axes, mode, fill_value)


def _scatter_fn(kind):
    def fn(operand, indices, updates, axes, mode='fill', unique_indices=False):
        return _indexing.scatter(operand, indices, updates, axes, mode, kind, unique_indices)
    fn.__name__ = 'scatter' if kind == 'set' else f'scatter_{kind}'
    return fn


scatter, scatter_add, scatter_mul, scatter_min, scatter_max = (
    _scatter_fn(k) for k in ('set', 'add', 'mul', 'min', 'max'))


def ppermute(x, axis_name, perm):
    perm = tuple((int(s), int(d)) for s, d in perm)
    return _tree(lambda v: _collectives.ppermute_p.bind(v, axis_name=axis_name, perm=perm), x)


def pshuffle(x, axis_name, perm):
    return ppermute(x, axis_name, [(p, i) for i, p in enumerate(perm)])


def all_to_all(x, axis_name, split_axis, concat_axis, *, tiled=False, axis_index_groups=None):
    return _tree(lambda v: _collectives.all_to_all_p.bind(v, axis_name=axis_name, split_axis=int(split_axis),
                                             concat_axis=int(concat_axis), tiled=bool(tiled)), x)


from tinyjax.lax.control_flow import cond, fori_loop, map, scan, switch, while_loop  # noqa: E402,F401

# The primitive objects under JAX's names (exp_p, add_p, ...), for custom interpreters.
from tinyjax.extend.core import primitives as _primitives  # noqa: E402
globals().update(_primitives.in_lax())
