"""Shape manipulation: reshape, transpose, stacking, splitting, tiling, padding, rolling."""
import math

import numpy as np

from tinyjax import dtypes, lax
from tinyjax.numpy.conversion import (asarray, broadcast_all, broadcast_shapes, broadcast_to,
                                canonicalize_axes, canonicalize_axis, promote)


def _resolve_shape(shape, size, op='reshape'):
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ValueError(f'{op}: can only specify one unknown dimension (-1), got {shape}')
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        if known == 0 or size % known:
            raise TypeError(f'{op}: cannot reshape an array of size {size} into shape {shape}')
        shape = tuple(size // known if s == -1 else s for s in shape)
    if math.prod(shape) != size:
        raise TypeError(f'{op}: cannot reshape an array of size {size} into shape {shape}; '
                        'the total size must stay the same')
    return shape


def reshape(a, shape=None, order='C', *, newshape=None, copy=None):
    a = asarray(a)
    shape = newshape if shape is None else shape
    shape = _resolve_shape(shape, a.size)
    if order == 'F':
        rev = tuple(reversed(range(a.ndim)))
        return transpose(lax.reshape(transpose(a, rev), shape[::-1]), tuple(reversed(range(len(shape)))))
    if order not in ('C', 'A'):
        raise ValueError(f"reshape: order must be 'C', 'F' or 'A', got {order!r}")
    return lax.reshape(a, shape)


def ravel(a, order='C'):
    a = asarray(a)
    return reshape(a, (a.size,), order)


def transpose(a, axes=None):
    a = asarray(a)
    if axes is None:
        axes = tuple(reversed(range(a.ndim)))
    axes = tuple(canonicalize_axis(x, a.ndim, 'transpose') for x in axes)
    if sorted(axes) != list(range(a.ndim)):
        raise TypeError(f'transpose: axes {axes} are not a permutation of the axes of an array '
                        f'of rank {a.ndim}')
    return lax.transpose(a, axes)


def permute_dims(a, axes):
    return transpose(a, axes)


def matrix_transpose(x):
    x = asarray(x)
    return swapaxes(x, -1, -2)


def swapaxes(a, axis1, axis2):
    a = asarray(a)
    perm = list(range(a.ndim))
    i, j = canonicalize_axis(axis1, a.ndim, 'swapaxes'), canonicalize_axis(axis2, a.ndim, 'swapaxes')
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(a, perm)


def moveaxis(a, source, destination):
    a = asarray(a)
    src = canonicalize_axes(source, a.ndim, 'moveaxis')
    dst = canonicalize_axes(destination, a.ndim, 'moveaxis')
    if len(src) != len(dst):
        raise ValueError('moveaxis: source and destination must have the same number of axes')
    perm = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return lax.transpose(a, perm)


def rollaxis(a, axis, start=0):
    a = asarray(a)
    axis = canonicalize_axis(axis, a.ndim, 'rollaxis')
    start = start % (a.ndim + 1) if start < 0 else start
    if axis < start:
        start -= 1
    return moveaxis(a, axis, start)


def expand_dims(a, axis):
    a = asarray(a)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return lax.expand_dims(a, axes)


def squeeze(a, axis=None):
    a = asarray(a)
    if axis is None:
        axes = tuple(i for i, s in enumerate(a.shape) if s == 1)
    else:
        axes = canonicalize_axes(axis, a.ndim, 'squeeze')
        for ax in axes:
            if a.shape[ax] != 1:
                raise ValueError(f'cannot select an axis to squeeze out which has size not equal '
                                 f'to one: axis {ax} of shape {a.shape}')
    return lax.squeeze(a, axes)


def broadcast_arrays(*args):
    xs = [asarray(x) for x in args]
    shape = broadcast_shapes(*[x.shape for x in xs])
    return [broadcast_to(x, shape) for x in xs]


def atleast_1d(*arys):
    out = [asarray(a) if asarray(a).ndim >= 1 else reshape(a, (1,)) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys):
    out = []
    for a in arys:
        a = asarray(a)
        out.append(a if a.ndim >= 2 else reshape(a, (1,) * (2 - a.ndim) + a.shape))
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys):
    out = []
    for a in arys:
        a = asarray(a)
        if a.ndim == 0:
            a = reshape(a, (1, 1, 1))
        elif a.ndim == 1:
            a = reshape(a, (1, a.shape[0], 1))
        elif a.ndim == 2:
            a = reshape(a, a.shape + (1,))
        out.append(a)
    return out[0] if len(out) == 1 else out


def concatenate(arrays, axis=0, dtype=None):
    xs = [asarray(a) for a in arrays]
    if not xs:
        raise ValueError('Need at least one array to concatenate.')
    if axis is None:
        xs = [ravel(x) for x in xs]
        axis = 0
    if any(x.ndim == 0 for x in xs):
        raise ValueError('Zero-dimensional arrays cannot be concatenated.')
    xs = promote(*xs)
    if dtype is not None:
        xs = [x.astype(dtype) for x in xs]
    nd = xs[0].ndim
    if any(x.ndim != nd for x in xs):
        raise TypeError(f'concatenate: all arrays must have the same rank, got shapes '
                         f'{[x.shape for x in xs]}')
    ax = canonicalize_axis(axis, nd, 'concatenate')
    for x in xs:
        if any(s != t for i, (s, t) in enumerate(zip(x.shape, xs[0].shape)) if i != ax):
            raise TypeError(f'concatenate: shapes {[x.shape for x in xs]} differ outside axis {ax}; '
                            'all axes but the concatenation axis must match')
    return lax.concatenate(xs, ax)


concat = concatenate


def stack(arrays, axis=0, dtype=None):
    xs = [asarray(a) for a in arrays]
    if not xs:
        raise ValueError('Need at least one array to stack.')
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise ValueError(f'All input arrays must have the same shape, got {[x.shape for x in xs]}')
    ax = canonicalize_axis(axis, xs[0].ndim + 1, 'stack')
    return concatenate([lax.expand_dims(x, (ax,)) for x in xs], ax, dtype)


def hstack(tup, dtype=None):
    xs = [atleast_1d(x) for x in tup]
    return concatenate(xs, 0 if xs[0].ndim == 1 else 1, dtype)


def vstack(tup, dtype=None):
    return concatenate([atleast_2d(x) for x in tup], 0, dtype)


row_stack = vstack


def dstack(tup, dtype=None):
    return concatenate([atleast_3d(x) for x in tup], 2, dtype)


def column_stack(tup):
    xs = [asarray(x) for x in tup]
    xs = [reshape(x, (x.shape[0], 1)) if x.ndim == 1 else x for x in xs]
    return concatenate(xs, 1)


def _split_points(n, indices_or_sections, op, strict):
    if np.ndim(indices_or_sections) == 0:
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f'{op}: number of sections must be larger than 0, got {k}')
        if strict and n % k:
            raise ValueError(f'array split does not result in an equal division: axis of size '
                             f'{n} into {k} sections; use array_split for unequal parts')
        base, extra = divmod(n, k)
        sizes = [base + 1] * extra + [base] * (k - extra)
        return list(np.cumsum([0] + sizes))
    idx = [int(i) for i in np.asarray(indices_or_sections).tolist()]
    return [0] + [min(max(i if i >= 0 else i + n, 0), n) for i in idx] + [n]


def split(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, True, 'split')


def array_split(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, False, 'array_split')


def _split(ary, ios, axis, strict, op):
    a = asarray(ary)
    ax = canonicalize_axis(axis, a.ndim, op)
    pts = _split_points(a.shape[ax], ios, op, strict)
    return [lax.slice_in_dim(a, s, max(s, e), 1, ax) for s, e in zip(pts[:-1], pts[1:])]


def hsplit(ary, ios):
    a = asarray(ary)
    return split(a, ios, 1 if a.ndim > 1 else 0)


def vsplit(ary, ios):
    return split(ary, ios, 0)


def tile(A, reps):
    a = asarray(A)
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    nd = max(a.ndim, len(reps))
    a = reshape(a, (1,) * (nd - a.ndim) + a.shape)
    reps = (1,) * (nd - len(reps)) + reps
    # Broadcast to (r0, s0, r1, s1, ...) then merge each pair.
    inter = []
    for r, s in zip(reps, a.shape):
        inter += [r, s]
    b = lax.broadcast_in_dim(a, inter, tuple(range(1, 2 * nd, 2)))
    return lax.reshape(b, tuple(r * s for r, s in zip(reps, a.shape)))


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    ax = canonicalize_axis(axis, a.ndim, 'repeat')
    if np.ndim(repeats) == 0 and not hasattr(repeats, 'aval') or \
            (hasattr(repeats, 'aval') and repeats.ndim == 0 and _is_concrete(repeats)):
        r = int(repeats)
        shape = a.shape[:ax + 1] + (r,) + a.shape[ax + 1:]
        dims = tuple(i if i <= ax else i + 1 for i in range(a.ndim))
        b = lax.broadcast_in_dim(a, shape, dims)
        out = lax.reshape(b, a.shape[:ax] + (a.shape[ax] * r,) + a.shape[ax + 1:])
        if total_repeat_length is not None:
            out = _fit_length(out, ax, total_repeat_length)
        return out
    reps = np.asarray(repeats)
    if reps.dtype == object or not _is_concrete_np(repeats):
        raise TypeError('repeat: array repeats must be concrete; pass total_repeat_length under jit')
    idx = np.repeat(np.arange(a.shape[ax]), np.broadcast_to(reps, (a.shape[ax],)))
    if total_repeat_length is not None:
        idx = np.resize(idx, total_repeat_length) if len(idx) else np.zeros(total_repeat_length, int)
    from tinyjax.numpy.indexing import take
    return take(a, asarray(idx.astype(np.int32)), axis=ax)


def _fit_length(x, ax, n):
    cur = x.shape[ax]
    if n <= cur:
        return lax.slice_in_dim(x, 0, n, 1, ax)
    last = lax.slice_in_dim(x, cur - 1, cur, 1, ax)
    return concatenate([x, repeat(last, n - cur, axis=ax)], ax)


def _is_concrete(x):
    try:
        int(x)
        return True
    except TypeError:
        return False


def _is_concrete_np(x):
    try:
        np.asarray(x)
        return True
    except TypeError:
        return False


def flip(m, axis=None):
    m = asarray(m)
    axes = canonicalize_axes(axis, m.ndim, 'flip')
    return lax.rev(m, axes)


def fliplr(m):
    return flip(m, 1)


def flipud(m):
    return flip(m, 0)


def roll(a, shift, axis=None):
    a = asarray(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), a.shape)
    shifts = (shift,) if np.ndim(shift) == 0 else tuple(shift)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    shifts, axes = np.broadcast_arrays(np.asarray(shifts), np.asarray(axes))
    for s, ax in zip(shifts.tolist(), axes.tolist()):
        ax = canonicalize_axis(ax, a.ndim, 'roll')
        n = a.shape[ax]
        if n == 0:
            continue
        s = int(s) % n
        if s:
            a = concatenate([lax.slice_in_dim(a, n - s, n, 1, ax), lax.slice_in_dim(a, 0, n - s, 1, ax)], ax)
    return a


def rot90(m, k=1, axes=(0, 1)):
    m = asarray(m)
    k %= 4
    a0, a1 = axes
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(m.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    return transpose(flip(m, a1), perm) if k == 1 else flip(transpose(m, perm), a1)


def _pad_widths(pad_width, ndim):
    pw = np.asarray(pad_width, dtype=np.int64)
    if pw.ndim == 0:
        pw = np.full((ndim, 2), int(pw))
    elif pw.ndim == 1:
        pw = np.broadcast_to(pw, (ndim, 2)) if pw.shape[0] == 2 else np.broadcast_to(pw[:, None], (ndim, 2))
    pw = np.broadcast_to(pw, (ndim, 2))
    if (pw < 0).any():
        raise ValueError(f'pad: index can\'t contain negative values, got {pad_width}')
    return [tuple(int(v) for v in row) for row in pw]


def pad(array, pad_width, mode='constant', *, constant_values=0, **kwargs):
    a = asarray(array)
    widths = _pad_widths(pad_width, a.ndim)
    if mode == 'constant':
        cv = np.asarray(constant_values)
        if cv.ndim == 0:
            return lax.pad(a, asarray(cv.astype(a.dtype)), [(lo, hi, 0) for lo, hi in widths])
        cv = np.broadcast_to(cv, (a.ndim, 2))
        for ax, ((lo, hi), (vlo, vhi)) in enumerate(zip(widths, cv)):
            cfg = [(0, 0, 0)] * a.ndim
            cfg[ax] = (lo, 0, 0)
            a = lax.pad(a, asarray(np.asarray(vlo, a.dtype)), cfg)
            cfg[ax] = (0, hi, 0)
            a = lax.pad(a, asarray(np.asarray(vhi, a.dtype)), cfg)
        return a
    for ax, (lo, hi) in enumerate(widths):
        a = _pad_axis(a, ax, lo, hi, mode)
    return a


def _pad_axis(a, ax, lo, hi, mode):
    n = a.shape[ax]
    if lo == hi == 0:
        return a
    if n == 0:
        raise ValueError(f"pad: can't extend an empty axis {ax} with mode {mode!r}")
    idx = np.arange(-lo, n + hi)
    if mode == 'edge':
        idx = np.clip(idx, 0, n - 1)
    elif mode == 'wrap':
        idx = idx % n
    elif mode in ('reflect', 'symmetric'):
        period = 2 * n - 2 if mode == 'reflect' else 2 * n
        if period == 0:
            idx = np.zeros_like(idx)
        else:
            idx = idx % period
            if mode == 'reflect':
                idx = np.where(idx >= n, period - idx, idx)
            else:
                idx = np.where(idx >= n, period - 1 - idx, idx)
    else:
        raise ValueError(f"pad: unsupported mode {mode!r}; use 'constant', 'edge', 'wrap', "
                         "'reflect' or 'symmetric'")
    from tinyjax.numpy.indexing import take
    return take(a, asarray(idx.astype(np.int32)), axis=ax)


def nonzero(a, *, size=None, fill_value=None):
    a = asarray(a)
    try:
        v = np.asarray(a)
    except TypeError:
        from tinyjax import errors
        raise errors.ConcretizationTypeError(a, 'jnp.nonzero without size= (its output shape '
                                             'depends on the values)') from None
    idx = np.nonzero(v)
    if size is not None:
        fill = 0 if fill_value is None else fill_value
        idx = tuple(np.concatenate([i[:size], np.full(max(size - len(i), 0), fill)]) for i in idx)
    return tuple(asarray(i.astype(dtypes.default_int())) for i in idx)


def flatnonzero(a, *, size=None, fill_value=None):
    return nonzero(ravel(a), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):
    idx = nonzero(a, size=size, fill_value=fill_value)
    return stack(idx, axis=1) if idx else asarray(np.zeros((0, 0), np.int32))


def diagonal(a, offset=0, axis1=0, axis2=1):
    a = asarray(a)
    a = moveaxis(a, (axis1, axis2), (-2, -1))
    n, m = a.shape[-2], a.shape[-1]
    rows = np.arange(max(0, -offset), min(n, m - offset)) if min(n, m - offset) > max(0, -offset) else np.arange(0)
    from tinyjax.numpy.indexing import take
    flat = reshape(a, a.shape[:-2] + (n * m,))
    return take(flat, asarray((rows * m + rows + offset).astype(np.int32)), axis=-1)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    from tinyjax.numpy.reductions import sum
    return sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def diag(v, k=0):
    v = asarray(v)
    if v.ndim == 1:
        n = v.shape[0] + abs(k)
        from tinyjax.numpy.creation import eye
        e = eye(n, k=k, dtype=dtypes.bool_)
        col = lax.broadcast_in_dim(v, (n, v.shape[0]), (1,))
        padded = lax.pad(col, asarray(np.asarray(0, v.dtype)), [(0, 0, 0), (max(k, 0), max(-k, 0), 0)]) \
            if k >= 0 else lax.pad(col, asarray(np.asarray(0, v.dtype)), [(0, 0, 0), (0, -k, 0)])
        if k < 0:
            rowsrc = lax.broadcast_in_dim(lax.pad(v, asarray(np.asarray(0, v.dtype)), [(-k, 0, 0)]), (n, n), (0,))
            return lax.select(e, rowsrc, lax.broadcast_in_dim(asarray(np.asarray(0, v.dtype)), (n, n), ()))
        return lax.select(e, padded, lax.broadcast_in_dim(asarray(np.asarray(0, v.dtype)), (n, n), ()))
    if v.ndim == 2:
        return diagonal(v, k)
    raise ValueError(f'diag: input must be 1-d or 2-d, got shape {v.shape}')
