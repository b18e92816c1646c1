"""Sorting and cumulative primitives: sort (multi-operand, like lax.sort), a permutation
along an axis (what sort's derivative needs), a float total-order key (for top_k), and
the cumulative reductions cumsum, cumprod, cummax, cummin, cumlogsumexp.

Sort order is JAX's: NaNs (of either sign) go last, -0.0 and 0.0 compare equal, and a
stable sort keeps equal keys in their input order. Sort is not linear; its derivative
sorts an iota with the keys to get the permutation and applies it to the tangents.
cumsum is linear (its transpose is a cumsum the other way). cumprod, cummax, cummin and
cumlogsumexp differentiate the parallel prefix scan below, so ties in cummax split the
tangent the way the elementwise max rule does, and zeros in cumprod are exact.
"""
import numpy as np

from tinyjax import dtypes
from tinyjax.core.ir import ShapedArray
from tinyjax.interpreters.ad import is_undefined
from tinyjax.ops import common, structural


def _ew():
    from tinyjax.ops import elementwise
    return elementwise


def _is_undefined(x):
    return is_undefined(x)


# --- host/device helpers (NumPy or CuPy through `xp`) ---------------------------------
def _stable_argsort(xp, key, axis):
    if key.dtype == dtypes.bfloat16:
        key = key.astype(np.float32)    # exact and order-preserving; NumPy has no bf16 sort
    if xp is np:
        return np.argsort(key, axis=axis, kind='stable')
    return xp.argsort(key, axis=axis)   # CuPy's argsort is always stable


def _sort_permutation(xp, keys, axis):
    """Indices that sort `keys` lexicographically (keys[0] most significant), stably.

    Stable sorts from the least significant key to the most significant one compose
    into a lexicographic sort (LSD radix order), with only argsort and a gather.
    """
    perm = _stable_argsort(xp, keys[-1], axis)
    for key in reversed(keys[:-1]):
        inner = _stable_argsort(xp, xp.take_along_axis(key, perm, axis=axis), axis)
        perm = xp.take_along_axis(perm, inner, axis=axis)
    return perm


# --- sort -----------------------------------------------------------------------------
def _sort_abstract(*operands, dimension, is_stable, num_keys):
    if not operands:
        raise TypeError('sort requires at least one operand')
    shape = operands[0].shape
    if any(o.shape != shape for o in operands):
        raise TypeError('Arguments to sort must have equal shapes, got: '
                        + ' '.join(str(o.shape) for o in operands))
    if not 0 <= dimension < len(shape):
        raise ValueError(f'sort: dimension {dimension} is out of bounds for an array of '
                         f'dimension {len(shape)}')
    if not 1 <= num_keys <= len(operands):
        raise ValueError(f'num_keys={num_keys} must be between 1 and '
                         f'len(operand)={len(operands)}')
    return [o for o in operands]


def _sort_impl(xp, *operands, dimension, is_stable, num_keys):
    if operands[0].size == 0:
        return list(operands)
    perm = _sort_permutation(xp, operands[:num_keys], dimension)
    return [xp.take_along_axis(o, perm, axis=dimension) for o in operands]


def _sort_jvp(primals, tangents, dimension, is_stable, num_keys):
    shape = common.aval_of(primals[0]).shape
    index_dtype = dtypes.int32 if shape[dimension] < 2 ** 31 else dtypes.int64
    index = structural.broadcasted_iota(index_dtype, shape, dimension)
    *outs, perm = sort_p.bind(*primals, index, dimension=dimension, is_stable=is_stable,
                              num_keys=num_keys)
    touts = [None if t is None else permute(t, perm, dimension) for t in tangents]
    return outs, touts


def _sort_batch(args, dims, dimension, is_stable, num_keys):
    size = common.batch_size(args, dims)
    xs = [common.move_batch_axis(x, d, 0, size) for x, d in zip(args, dims)]
    outs = sort_p.bind(*xs, dimension=dimension + 1, is_stable=is_stable, num_keys=num_keys)
    return outs, [0] * len(outs)


sort_p = common.define('sort', _sort_abstract, _sort_impl, _sort_jvp, batch=_sort_batch,
                       multiple_results=True)


def sort(operands, dimension=-1, is_stable=True, num_keys=1):
    """Sort `operands` (a list of equal-shaped arrays) along `dimension` by the first
    `num_keys` of them; returns the list of sorted operands."""
    operands = list(operands)
    if not operands:
        raise TypeError('Sort requires at least one operand')
    nd = common.aval_of(operands[0]).ndim
    dimension = common.normalize_axis(int(dimension), nd, 'sort')
    return sort_p.bind(*operands, dimension=dimension, is_stable=bool(is_stable),
                       num_keys=int(num_keys))


# --- permute: out[..i..] = x[..perm[..i..]..] along one axis ------------------------
# The tangent map of sort. `perm` holds a permutation of range(n) along `axis` in every
# lane, so the transpose is the inverse permutation (found by sorting perm with an iota).
def _permute_abstract(x, perm, axis):
    if x.shape != perm.shape or not dtypes.is_int(perm.dtype):
        raise TypeError(f'permute: needs an integer permutation shaped like the operand, '
                        f'got {x.str_short()} and {perm.str_short()}')
    return x


def _permute_impl(xp, x, perm, axis):
    return xp.take_along_axis(x, perm, axis=axis)


def _permute_jvp(primals, tangents, axis):
    x, perm = primals
    out = permute(x, perm, axis)
    return out, None if tangents[0] is None else permute(tangents[0], perm, axis)


def inverse_permutation(perm, axis):
    shape, dt = common.aval_of(perm).shape, common.aval_of(perm).dtype
    return sort([perm, structural.broadcasted_iota(dt, shape, axis)], axis)[1]


def _permute_transpose(ct, x, perm, axis):
    if ct is None or not _is_undefined(x):
        return [None, None]
    return [permute(ct, inverse_permutation(perm, axis), axis), None]


def _permute_batch(args, dims, axis):
    size = common.batch_size(args, dims)
    x, perm = (common.move_batch_axis(a, d, 0, size) for a, d in zip(args, dims))
    return permute(x, perm, axis + 1), 0


permute_p = common.define('permute_along_axis', _permute_abstract, _permute_impl,
                          _permute_jvp, _permute_transpose, _permute_batch)


def permute(x, perm, axis):
    return permute_p.bind(x, perm, axis=int(axis))


# --- total-order key: floats as signed ints in IEEE totalOrder -----------------------
# -NaN < -inf < ... < -0.0 < 0.0 < ... < inf < NaN. top_k orders by this (unlike sort).
def _total_order_abstract(x):
    if not dtypes.is_float(x.dtype):
        raise TypeError(f'total_order_key takes floats, got {x.dtype}')
    return ShapedArray(x.shape, np.dtype(f'int{8 * x.dtype.itemsize}'), False)


def _total_order_impl(xp, x):
    idt = np.dtype(f'int{8 * x.dtype.itemsize}')
    bits = xp.ascontiguousarray(x).view(idt)
    # Negative floats order backwards as sign-magnitude ints: flip their magnitude bits.
    magnitude = idt.type(np.iinfo(idt).max)   # a NumPy scalar: CuPy refuses 0-d host arrays
    return xp.where(bits < 0, bits ^ magnitude, bits)


total_order_key_p = common.define(
    'total_order_key', _total_order_abstract, _total_order_impl,
    jvp=lambda primals, tangents: (total_order_key_p.bind(*primals), None),
    batch=lambda args, dims: (total_order_key_p.bind(*args), dims[0]))


def total_order_key(x):
    return total_order_key_p.bind(x)


# --- cumulative reductions ------------------------------------------------------------
def _cum_abstract(name):
    def rule(x, axis, reverse):
        if not 0 <= axis < x.ndim:
            raise ValueError(f'{name}: axis {axis} is out of bounds for array of shape '
                             f'{x.shape}' + (' (negative axes are not allowed here)'
                                             if axis < 0 else ''))
        if dtypes.is_bool(x.dtype) or (name == 'cumlogsumexp' and not dtypes.is_inexact(x.dtype)):
            kind = 'floating' if name == 'cumlogsumexp' else 'number'
            raise TypeError(f'{name} does not accept dtype {x.dtype.name}. Accepted dtypes '
                            f'are subtypes of {kind}.')
        return ShapedArray(x.shape, x.dtype, x.weak_type)
    return rule


def _hillis_steele(xp, fn, x, axis):
    """Inclusive scan by doubling strides: works for any array module with slicing."""
    out = x
    n, step = x.shape[axis], 1
    while step < n:
        head = [slice(None)] * x.ndim
        tail = [slice(None)] * x.ndim
        head[axis], tail[axis] = slice(0, n - step), slice(step, n)
        shifted = out.copy()
        shifted[tuple(tail)] = fn(out[tuple(head)], out[tuple(tail)])
        out, step = shifted, step * 2
    return out


def _logaddexp(xp, a, b):
    with np.errstate(invalid='ignore'):
        return xp.logaddexp(a, b)


_CUM_FNS = {
    'cumsum': lambda xp: xp.add,
    'cumprod': lambda xp: xp.multiply,
    'cummax': lambda xp: xp.maximum,
    'cummin': lambda xp: xp.minimum,
    'cumlogsumexp': lambda xp: (lambda a, b: _logaddexp(xp, a, b)),
}


def _cum_impl(name):
    def impl(xp, x, axis, reverse):
        low_precision = x.dtype in (dtypes.float16, dtypes.bfloat16)
        y = x.astype(np.float32) if low_precision else x
        if reverse:
            y = xp.flip(y, axis)
        fn = _CUM_FNS[name](xp)
        if name == 'cumsum':
            y = xp.cumsum(y, axis=axis, dtype=y.dtype)
        elif name == 'cumprod':
            y = xp.cumprod(y, axis=axis, dtype=y.dtype)
        elif xp is np and name != 'cumlogsumexp':
            y = fn.accumulate(y, axis=axis)
        else:
            y = _hillis_steele(xp, fn, y, axis)
        if reverse:
            y = xp.flip(y, axis)
        return y.astype(x.dtype)
    return impl


def _cum_batch(p):
    def rule(args, dims, axis, reverse):
        x = common.move_batch_axis(args[0], dims[0], 0)
        return p.bind(x, axis=axis + 1, reverse=reverse), 0
    return rule


def _interleave(even, odd, axis):
    """out[2i] = even[i], out[2i+1] = odd[i]; len(even) is len(odd) or len(odd) + 1."""
    ne, no = common.aval_of(even).shape[axis], common.aval_of(odd).shape[axis]
    if ne > no:   # pad odd with a dummy element to stack, then drop it
        odd = structural.concatenate([odd, structural.slice_in_dim(even, 0, 1, 1, axis)], axis)
    shape = list(common.aval_of(even).shape)
    pair = [structural.expand_dims(v, (axis + 1,)) for v in (even, odd)]
    joined = structural.concatenate(pair, axis + 1)
    shape[axis] = 2 * ne
    out = structural.reshape(joined, shape)
    return structural.slice_in_dim(out, 0, ne + no, 1, axis) if ne > no else out


def _prefix_scan(combine, x, t, axis):
    """Inclusive scan of (value, tangent) pairs along axis with the odd/even recursion
    (pair neighbours, scan the pairs, fill in the even positions), O(log n) deep.
    Differentiating this tree, not a sequential loop, fixes how ties share a tangent."""
    n = common.aval_of(x).shape[axis]
    if n < 2:
        return x, t

    def sl(v, start, stop, stride=1):
        return structural.slice_in_dim(v, start, stop, stride, axis)
    px, pt = combine(sl(x, 0, n - 1, 2), sl(x, 1, n, 2), sl(t, 0, n - 1, 2), sl(t, 1, n, 2))
    ox, ot = _prefix_scan(combine, px, pt, axis)          # prefixes ending at 1, 3, 5, ...
    m = common.aval_of(ox).shape[axis]
    lx, lt = (ox, ot) if n % 2 else (sl(ox, 0, m - 1), sl(ot, 0, m - 1))
    ex, et = combine(lx, sl(x, 2, n, 2), lt, sl(t, 2, n, 2))   # prefixes ending at 2, 4, ...
    ex = structural.concatenate([sl(x, 0, 1), ex], axis)
    et = structural.concatenate([sl(t, 0, 1), et], axis)
    return _interleave(ex, ox, axis), _interleave(et, ot, axis)


def _combine_with_jvp(prim):
    """A scan step on (value, tangent) pairs: the binary primitive and its JVP rule."""
    def combine(a, b, ta, tb):
        return prim.jvp((a, b), (ta, tb))
    return combine


def _logaddexp_combine(a, b, ta, tb):
    ew = _ew()
    hi = ew.max(a, b)
    finite_hi = ew.select_n(ew.is_finite(hi), common.zeros_like(hi), hi)
    ea, eb = ew.exp(ew.sub(a, finite_hi)), ew.exp(ew.sub(b, finite_hi))
    total = ew.add(ea, eb)
    out = ew.add(ew.log(total), finite_hi)
    return out, ew.add(ew.mul(ta, ew.div(ea, total)), ew.mul(tb, ew.div(eb, total)))


def _cum_jvp(name, combine_fn):
    def rule(primals, tangents, axis, reverse):
        (x,), (t,) = primals, tangents
        y = CUM_PRIMS[name].bind(x, axis=axis, reverse=reverse)
        if t is None:
            return y, None
        if reverse:
            x, t = structural.rev(x, (axis,)), structural.rev(t, (axis,))
        _, ty = _prefix_scan(combine_fn(), x, t, axis)
        return y, structural.rev(ty, (axis,)) if reverse else ty
    return rule


def _cumsum_transpose(ct, x, axis, reverse):
    return [None if ct is None else cumsum(ct, axis, not reverse)]


CUM_PRIMS = {}
for _name in ('cumsum', 'cumprod', 'cummax', 'cummin', 'cumlogsumexp'):
    CUM_PRIMS[_name] = common.define(_name, _cum_abstract(_name), _cum_impl(_name))
    CUM_PRIMS[_name].batch = _cum_batch(CUM_PRIMS[_name])
cumsum_p, cumprod_p, cummax_p, cummin_p, cumlogsumexp_p = CUM_PRIMS.values()
cumsum_p.transpose = _cumsum_transpose
cumsum_p.jvp = lambda primals, tangents, axis, reverse: (
    cumsum(primals[0], axis, reverse),
    None if tangents[0] is None else cumsum(tangents[0], axis, reverse))
cumprod_p.jvp = _cum_jvp('cumprod', lambda: _combine_with_jvp(_ew().mul_p))
cummax_p.jvp = _cum_jvp('cummax', lambda: _combine_with_jvp(_ew().max_p))
cummin_p.jvp = _cum_jvp('cummin', lambda: _combine_with_jvp(_ew().min_p))
cumlogsumexp_p.jvp = _cum_jvp('cumlogsumexp', lambda: _logaddexp_combine)


def _cum_binder(p):
    def fn(x, axis=0, reverse=False):
        return p.bind(x, axis=int(axis), reverse=bool(reverse))
    fn.__name__ = p.name
    return fn


cumsum, cumprod, cummax, cummin, cumlogsumexp = (_cum_binder(p) for p in CUM_PRIMS.values())
