"""NumPy indexing with JAX's semantics: x[idx], x.at[idx].<update>(...), take,
take_along_axis.

An index is first parsed into one entry per axis (plus 'none' for new axes):
  ('slice', start, stop, step, count)   static, NumPy's slice.indices() rules
  ('int', i)                            a static Python int
  ('dyn', a)                            a 0-d integer array (value maybe unknown)
  ('adv', a)                            an integer index array (bool masks become these)
Indexing with only slices, ints and None lowers to slice / rev / dynamic_slice /
squeeze / reshape, as JAX's does. With index arrays it becomes one gather: the index
arrays (broadcast together) select along their axes, and NumPy's placement rule puts
the broadcast dims where the first index array was if the index arrays are adjacent,
else in front. Updates (`.at[]`) are one scatter of the same form, with strided slices
turned into arange index arrays.
"""
import operator

import numpy as np

from tinyjax import dtypes, errors, lax
from tinyjax.core import trace as core_trace
from tinyjax.core.array import Array
from tinyjax.numpy.conversion import asarray, broadcast_shapes, broadcast_to, canonicalize_axis
from tinyjax.ops import indexing as ops
from tinyjax.ops.elementwise import convert
from tinyjax.numpy.ufuncs import negative, true_divide, power, remainder
from tinyjax.numpy.creation import ones_like, zeros
from tinyjax.lax import while_loop
from tinyjax.ops.layout import laid_out

__all__ = ['take', 'take_along_axis']

_GET_MODES = {None: 'promise_in_bounds', 'promise_in_bounds': 'promise_in_bounds',
              'clip': 'clip', 'fill': 'fill', 'drop': 'fill'}
_UPDATE_MODES = {None: 'fill', 'drop': 'fill', 'fill': 'fill', 'clip': 'clip',
                 'promise_in_bounds': 'promise_in_bounds'}


# --- parsing --------------------------------------------------------------------------
def _mode(table, mode, what):
    if mode not in table:
        raise ValueError(f'Unknown {what} mode "{mode}"')
    return table[mode]


def _static_int(v, where):
    if v is None or isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return v
    if isinstance(v, Array) or isinstance(v, np.ndarray):
        try:
            return int(v.__index__())
        except errors.ConcretizationTypeError:
            raise IndexError(f'Slice entries must be static integers. Got {where}') from None
    return operator.index(v)   # floats raise TypeError here, as in NumPy


def _as_index_array(e, pos):
    """An index element that is array-like, as a NumPy array (concrete) or an Array."""
    if isinstance(e, Array):
        arr = e
    else:
        arr = np.asarray(e)
        if isinstance(e, (list, tuple)) and arr.size == 0:   # [] is an empty int index
            arr = arr.astype(np.int32)
        if arr.dtype == object:
            raise IndexError('only integers, slices (`:`), ellipsis (`...`), newaxis (`None`) '
                             f'and integer or boolean arrays are valid indices. Got {e!r}')
    dt = np.dtype(arr.dtype)
    if not (dtypes.is_int(dt) or dtypes.is_bool(dt)):
        raise TypeError(f'Indexer must have integer or boolean type, got indexer with type '
                        f'{dt.name} at position {pos}, indexer value {e!r}')
    return arr


def _concrete_mask(m):
    if isinstance(m, np.ndarray):
        return m
    try:
        return np.asarray(m)
    except (errors.TracerArrayConversionError, errors.ConcretizationTypeError):
        raise errors.NonConcreteBooleanIndexError(m) from None


def _parse(shape, idx):
    """(entries, new_axes): entries name what each operand axis gets, in index order,
    with ('none',) for None; new_axes lists operand positions where a 0-d boolean
    index inserts an axis first (NumPy treats it as a mask over a new size-1 axis)."""
    if isinstance(idx, list):
        raise TypeError('Using a non-tuple sequence for multidimensional indexing is not '
                        'allowed; use `arr[array(seq)]` instead of `arr[seq]`. See '
                        'https://github.com/jax-ml/jax/issues/4564 for more information.')
    idx = idx if isinstance(idx, tuple) else (idx,)
    items = []   # (kind, value) before Ellipsis expansion; kind 'mask' consumes mask.ndim
    for pos, e in enumerate(idx):
        if e is None:
            items.append(('none', None))
        elif e is Ellipsis:
            items.append(('ellipsis', None))
        elif isinstance(e, slice):
            where = f'{e} at position {pos}'
            step = _static_int(e.step, where)
            if step == 0:
                raise ValueError('slice step cannot be zero')
            items.append(('slice', slice(_static_int(e.start, where), _static_int(e.stop, where),
                                         step)))
        elif isinstance(e, (bool, np.bool_)):
            items.append(('bool0', bool(e)))
        elif isinstance(e, (int, np.integer)):
            items.append(('int', int(e)))
        elif isinstance(e, str):
            raise TypeError(f'JAX does not support string indexing; got idx={idx!r}')
        elif isinstance(e, (float, complex, np.floating, np.complexfloating)):
            raise TypeError(f'Indexer must have integer or boolean type, got indexer with type '
                            f'{np.asarray(e).dtype.name} at position {pos}, indexer value {e!r}')
        elif isinstance(e, (Array, np.ndarray, list, tuple)):
            arr = _as_index_array(e, pos)
            if dtypes.is_bool(arr.dtype):
                if arr.ndim == 0:
                    items.append(('bool0', bool(_concrete_mask(arr))))
                else:
                    items.append(('mask', _concrete_mask(arr)))
            elif arr.ndim == 0 and isinstance(arr, np.ndarray):
                items.append(('int', int(arr)))
            elif arr.ndim == 0:
                items.append(('dyn', arr))
            else:
                items.append(('adv', arr))
        else:
            raise IndexError('only integers, slices (`:`), ellipsis (`...`), newaxis (`None`) '
                             f'and integer or boolean arrays are valid indices. Got {e!r}')
    if sum(k == 'ellipsis' for k, _ in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(v.ndim if k == 'mask' else 1 for k, v in items
               if k not in ('none', 'ellipsis', 'bool0'))
    if used > len(shape):
        raise IndexError(f'Too many indices: array is {len(shape)}-dimensional, but {used} '
                         'were indexed')
    fill = [('slice', slice(None))] * (len(shape) - used)
    if not any(k == 'ellipsis' for k, _ in items):
        items = items + fill
    else:
        at = next(i for i, (k, _) in enumerate(items) if k == 'ellipsis')
        items = items[:at] + fill + items[at + 1:]
    entries, new_axes, axis = [], [], 0
    for k, v in items:
        if k == 'none':
            entries.append(('none',))
        elif k == 'bool0':
            new_axes.append(axis)
            entries.append(('adv', np.zeros((1 if v else 0,), np.int32)))
            axis += 1
        elif k == 'mask':
            want = tuple(shape[axis - len(new_axes):axis - len(new_axes) + v.ndim])
            if v.shape != want:
                raise IndexError(f'boolean index did not match shape of indexed array in index '
                                 f'{axis}: got {v.shape}, expected {list(want)}')
            entries.extend(('adv', i) for i in np.nonzero(v))
            axis += v.ndim
        elif k == 'slice':
            n = shape[axis - len(new_axes)]
            start, stop, step = v.indices(n)
            entries.append(('slice', start, stop, step, len(range(start, stop, step))))
            axis += 1
        else:
            entries.append((k, v))
            axis += 1
    return entries, new_axes


def _axes_of(entries):
    """The operand axis each entry indexes (None for 'none' entries)."""
    out, axis = [], 0
    for e in entries:
        out.append(None if e[0] == 'none' else axis)
        axis += e[0] != 'none'
    return out


def _is_full(e, n):
    return e[0] == 'slice' and e[1] == 0 and e[3] == 1 and e[4] == n


# --- lowering -------------------------------------------------------------------------
def _wrap_negative(i, n):
    """A negative index counts from the end (NumPy); the result may still be out of range."""
    if isinstance(i, np.ndarray):
        return np.where(i < 0, i + n, i).astype(dtypes.default_int())
    unsigned = dtypes.is_unsigned(i.dtype)
    if i.dtype != dtypes.default_int():
        i = lax.convert_element_type(i, dtypes.default_int())
    if unsigned:
        return i
    n_ = ops.common.scalar(n, i.dtype)
    return lax.select_n(lax.lt(i, ops.common.scalar(0, i.dtype)), i, lax.add(i, n_))


def _slice_config(entries, axes, shape):
    """One static slice (start, limit, stride per axis) and the axes to reverse, for the
    'slice' entries and the in-bounds static 'int' entries."""
    starts, limits, strides, flips = [0] * len(shape), list(shape), [1] * len(shape), []
    for e, ax in zip(entries, axes):
        if e[0] == 'int' and -shape[ax] <= e[1] < shape[ax]:
            starts[ax], limits[ax] = e[1] % shape[ax], e[1] % shape[ax] + 1
        if e[0] != 'slice':
            continue
        _, start, stop, step, count = e
        if count == 0:
            starts[ax], limits[ax] = 0, 0
        elif step > 0:
            starts[ax], limits[ax], strides[ax] = start, start + (count - 1) * step + 1, step
        else:   # walk the same elements forwards, then reverse them
            starts[ax], limits[ax], strides[ax] = start + (count - 1) * step, start + 1, -step
            if count > 1:
                flips.append(ax)
    return starts, limits, strides, flips


def _sliced(x, config):
    starts, limits, strides, flips = config
    x = lax.slice(x, starts, limits, strides)
    return lax.rev(x, flips) if flips else x


def _apply_slices(x, entries, axes):
    """Apply every 'slice' entry statically; those axes are then whole."""
    ents = [e for e in entries if e[0] == 'slice']
    cfg = _slice_config(ents, [ax for e, ax in zip(entries, axes) if e[0] == 'slice'], x.shape)
    new = [('slice', 0, e[4], 1, e[4]) if e[0] == 'slice' else e for e in entries]
    return _sliced(x, cfg), new


def _basic_getitem(x, entries):
    """Only slices, ints and None: slice, rev, dynamic_slice, squeeze, reshape."""
    axes = _axes_of(entries)
    dyn, squeezed = {}, []
    for e, ax in zip(entries, axes):
        if e[0] == 'int':
            n, i = x.shape[ax], e[1]
            if n == 0:
                raise IndexError(f'index is out of bounds for axis {ax} with size 0')
            if not -n <= i < n:   # JAX clamps it, through dynamic_slice
                dyn[ax] = ops.common.scalar(i + n if i < 0 else i, dtypes.default_int())
            squeezed.append(ax)
        elif e[0] == 'dyn':
            dyn[ax] = _wrap_negative(e[1], x.shape[ax])
            squeezed.append(ax)
    x = _sliced(x, _slice_config(entries, axes, x.shape))
    if dyn:
        zero = ops.common.scalar(0, dtypes.default_int())
        start_idx = [dyn.get(a, zero) for a in range(x.ndim)]
        sizes = [1 if a in dyn else s for a, s in enumerate(x.shape)]
        x = ops.dynamic_slice(x, start_idx, sizes)
    x = lax.squeeze(x, squeezed)
    new_dims, pos = [], 0
    for e in entries:
        if e[0] == 'none':
            new_dims.append(pos)
        pos += e[0] in ('slice', 'none')
    return lax.reshape(x, _insert_ones(x.shape, new_dims)) if new_dims else x


def _insert_ones(shape, dims):
    shape = list(shape)
    for d in sorted(dims):
        shape.insert(d, 1)
    return tuple(shape)


class _GatherForm:
    """The gather/scatter form of an advanced (or update) index, and how its output
    dims map to NumPy's layout of x[idx]."""

    def __init__(self, shape, entries, slices_as_indices):
        axes = _axes_of(entries)
        adv = [(e, ax) for e, ax in zip(entries, axes) if e[0] in ('int', 'dyn', 'adv')]
        adv_pos = [j for j, e in enumerate(entries) if e[0] in ('int', 'dyn', 'adv')]
        partial = [(e, ax) for e, ax in zip(entries, axes)
                   if e[0] == 'slice' and slices_as_indices and not _is_full(e, shape[ax])]
        arrays = [_wrap_negative(e[1] if e[0] != 'int' else np.asarray(e[1]), shape[ax])
                  for e, ax in adv]
        bshape = broadcast_shapes(*[a.shape for a in arrays]) if arrays else ()
        grid = tuple(bshape) + tuple(e[4] for e, _ in partial)
        comps = []
        nb = len(bshape)
        for a in arrays:
            a = broadcast_to(asarray(a), bshape)
            comps.append(lax.broadcast_in_dim(a, grid, tuple(range(nb))))
        for j, (e, _) in enumerate(partial):
            _, start, _, step, count = e
            r = asarray((start + step * np.arange(count)).astype(dtypes.default_int()))
            comps.append(lax.broadcast_in_dim(r, grid, (nb + j,)))
        self.axes = tuple(ax for _, ax in adv) + tuple(ax for _, ax in partial)
        self.empty = not self.axes
        if comps:
            self.indices = lax.concatenate([lax.expand_dims(c, (len(grid),)) for c in comps],
                                           len(grid))
        partial_axes = [ax for _, ax in partial]
        window = [ax for e, ax in zip(entries, axes) if e[0] == 'slice' and ax not in partial_axes]
        # NumPy's layout: the broadcast block replaces adjacent index arrays in place,
        # else goes first.
        contiguous = bool(adv_pos) and adv_pos == list(range(adv_pos[0], adv_pos[-1] + 1))
        items = [] if contiguous or not adv_pos else ['B']
        for j, (e, ax) in enumerate(zip(entries, axes)):
            if e[0] in ('int', 'dyn', 'adv'):
                if contiguous and j == adv_pos[0]:
                    items.append('B')
            else:
                items.append('N' if e[0] == 'none' else ax)
        perm, new_dims, shp = [], [], []
        for it in items:
            if it == 'B':
                perm.extend(range(nb))
                shp.extend(bshape)
            elif it == 'N':
                new_dims.append(len(shp))
                shp.append(1)
            elif it in partial_axes:
                perm.append(nb + partial_axes.index(it))
                shp.append(grid[nb + partial_axes.index(it)])
            else:
                perm.append(len(grid) + window.index(it))
                shp.append(shape[it])
        self.perm, self.new_dims, self.out_shape = tuple(perm), new_dims, tuple(shp)

    def to_numpy_layout(self, g):
        g = lax.transpose(g, self.perm)
        return lax.reshape(g, self.out_shape) if self.new_dims else g

    def from_numpy_layout(self, v):
        shape = tuple(s for d, s in enumerate(self.out_shape) if d not in self.new_dims)
        v = lax.reshape(v, shape) if self.new_dims else v
        return lax.transpose(v, tuple(np.argsort(self.perm)))


def _with_new_axes(x, new_axes):
    return lax.expand_dims(x, new_axes) if new_axes else x


def getitem(x, idx, mode=None, fill_value=None):
    x = asarray(x)
    mode = _mode(_GET_MODES, mode, 'gather')
    entries, new_axes = _parse(x.shape, idx)
    x = _with_new_axes(x, new_axes)
    if mode != 'fill' and not any(e[0] == 'adv' for e in entries):
        return _basic_getitem(x, entries)
    x, entries = _apply_slices(x, entries, _axes_of(entries))
    form = _GatherForm(x.shape, entries, False)
    if form.empty:
        return form.to_numpy_layout(x)
    if fill_value is not None and mode == 'fill':
        fill_value = np.asarray(fill_value).astype(x.dtype).item()
    g = ops.gather(x, form.indices, form.axes, mode, fill_value if mode == 'fill' else None)
    return form.to_numpy_layout(g)


# --- updates --------------------------------------------------------------------------
def _scatter_update(x, idx, values, kind, mode, unique_indices=False):
    x = asarray(x)
    mode = _mode(_UPDATE_MODES, mode, 'scatter')
    entries, new_axes = _parse(x.shape, idx)
    xe = _with_new_axes(x, new_axes)
    form = _GatherForm(xe.shape, entries, True)
    v = asarray(values)
    if v.dtype != x.dtype:
        v = lax.convert_element_type(v, x.dtype)
    if v.ndim > len(form.out_shape):
        raise ValueError(f'Cannot broadcast to shape with fewer dimensions: '
                         f'arr_shape={v.shape} shape={form.out_shape}')
    try:
        v = broadcast_to(v, form.out_shape)
    except (ValueError, TypeError):
        raise ValueError(f'Incompatible shapes for broadcasting: the update has shape '
                         f'{v.shape}, the indexed array has shape {form.out_shape}') from None
    v = form.from_numpy_layout(v)
    if form.empty:   # nothing selects positions: every element is updated once
        out = _combine(xe, v, kind)
    else:
        out = ops.scatter(xe, form.indices, v, form.axes, mode, kind, unique_indices)
    return lax.squeeze(out, new_axes) if new_axes else out


def _combine(x, v, kind):
    if kind == 'set':
        return convert(v, x.dtype, x.weak_type)
    return {'add': lax.add, 'mul': lax.mul, 'min': lax.min, 'max': lax.max}[kind](x, v)


class _IndexUpdateRef:
    """x.at[idx]: the functional form of NumPy's in-place indexed updates."""

    def __init__(self, array, index):
        self.array, self.index = array, index

    def __repr__(self):
        return f'_IndexUpdateRef({self.array!r}, {self.index!r})'

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None,
            fill_value=None, out_sharding=None):
        return laid_out(getitem(self.array, self.index, mode, fill_value), out_sharding)

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter_update(self.array, self.index, values, 'set', mode, unique_indices)

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter_update(self.array, self.index, values, 'add', mode, unique_indices)

    def subtract(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self.add(negative(asarray(values)), indices_are_sorted=indices_are_sorted,
                        unique_indices=unique_indices, mode=mode)

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter_update(self.array, self.index, values, 'mul', mode, unique_indices)

    mul = multiply

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        # Divisors at repeated indices multiply together; then one true division.
        x = asarray(self.array)
        den = _scatter_update(ones_like(x), self.index, values, 'mul', mode, unique_indices)
        return true_divide(x, den)

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        x = asarray(self.array)
        exponent = _scatter_update(ones_like(x), self.index, values, 'mul', mode, unique_indices)
        return power(x, exponent)

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter_update(self.array, self.index, values, 'min', mode, unique_indices)

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter_update(self.array, self.index, values, 'max', mode, unique_indices)

    def apply(self, func, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """func (elementwise) applied once per update, as in JAX: a position the index
        names k times gets func applied k times."""
        update_mode = _mode(_UPDATE_MODES, mode, 'scatter')
        if unique_indices or not _may_repeat(self.index):
            current = getitem(self.array, self.index, 'clip' if update_mode == 'clip' else None)
            return self.set(func(current), unique_indices=unique_indices, mode=mode)
        x = asarray(self.array)
        times = _scatter_update(zeros(x.shape, np.int32), self.index, 1, 'add', mode, False)

        def once_more(r, y):     # one more application where the count exceeds r
            return lax.select_n(lax.gt(times, r), y, asarray(func(y), y.dtype))
        most = times.max() if x.size else 0
        if not isinstance(most, core_trace.Tracer):
            for r in range(int(most)):
                x = once_more(np.int32(r), x)
            return x
        _, out = while_loop(lambda c: lax.lt(c[0], most),
                            lambda c: (c[0] + 1, once_more(c[0], c[1])), (np.int32(0), x))
        return out


def _may_repeat(index):
    """Can this index name one position twice? Only integer arrays (and lists) can."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(not (p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice))
                    or (isinstance(p, (Array, np.ndarray)) and (p.ndim == 0 or p.dtype == bool)))
               for p in parts)


class AtIndexer:
    """The object behind `x.at`: `x.at[idx]` gives the update methods for that index."""

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index):
        return _IndexUpdateRef(self.array, index)

    def __repr__(self):
        return f'AtIndexer({self.array!r})'


# --- take, take_along_axis ------------------------------------------------------------
def _index_operand(indices, op):
    ind = asarray(indices)
    if not dtypes.is_int(ind.dtype):
        raise ValueError(f'{op}: indices must have an integer type, got {ind.dtype.name}')
    return ind


def _fix_indices(ind, n, mode, op):
    """Indices and the gather mode for take-like functions (JAX's default: 'fill').
    As in JAX, jnp.take with mode='clip' clips negative indices to 0 rather than
    counting them from the end; take_along_axis wraps them first."""
    if mode == 'raise':
        raise NotImplementedError(f"The 'raise' mode to jnp.{op} is not supported.")
    if mode == 'wrap':
        return remainder(ind, n).astype(dtypes.default_int()), 'clip'
    gm = _mode(_GET_MODES, 'fill' if mode is None else mode, 'gather')
    if mode == 'clip' and op == 'take':
        return lax.convert_element_type(ind, dtypes.default_int()), gm
    return _wrap_negative(ind, n), gm


def _fill(x, mode, fill_value):
    if mode != 'fill' or fill_value is None:
        return None
    return np.asarray(fill_value).astype(x.dtype).item()


def take(a, indices, axis=None, mode=None, fill_value=None, unique_indices=False,
         indices_are_sorted=False):
    a = asarray(a)
    ind = _index_operand(indices, 'take')
    if axis is None:
        a, axis = lax.reshape(a, (a.size,)), 0
    axis = canonicalize_axis(axis, a.ndim, 'take')
    ind, gm = _fix_indices(ind, a.shape[axis], mode, 'take')
    g = ops.gather(a, lax.expand_dims(ind, (ind.ndim,)), (axis,), gm, _fill(a, gm, fill_value))
    # gather gives (*ind.shape, *other axes); NumPy puts ind's dims at `axis`.
    k = ind.ndim
    perm = list(range(k, k + axis)) + list(range(k)) + list(range(k + axis, g.ndim))
    return lax.transpose(g, perm)


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    a = asarray(arr)
    ind = _index_operand(indices, 'take_along_axis')
    if axis is None:
        if ind.ndim != 1:
            raise ValueError(f'when axis=None, `indices` must have a single dimension, got '
                             f'{ind.shape}')
        a, axis = lax.reshape(a, (a.size,)), 0
    if ind.ndim != a.ndim:
        raise ValueError(f'indices and arr must have the same number of dimensions; '
                         f'{ind.ndim} vs. {a.ndim}')
    axis = canonicalize_axis(axis, a.ndim, 'take_along_axis')
    # Broadcast every axis but `axis` between arr and indices.
    other = broadcast_shapes(*[tuple(s for d, s in enumerate(t.shape) if d != axis)
                               for t in (a, ind)])
    def full(shape_at_axis):
        return other[:axis] + (shape_at_axis,) + other[axis:]
    a = broadcast_to(a, full(a.shape[axis]))
    ind = broadcast_to(ind, full(ind.shape[axis]))
    ind, gm = _fix_indices(ind, a.shape[axis], mode, 'take_along_axis')
    dt = ind.dtype
    comps = [ind if d == axis else lax.broadcasted_iota(dt, ind.shape, d) for d in range(a.ndim)]
    idx = lax.concatenate([lax.expand_dims(c, (ind.ndim,)) for c in comps], ind.ndim)
    return ops.gather(a, idx, tuple(range(a.ndim)), gm, _fill(a, gm, fill_value))
