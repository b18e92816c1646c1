"""Collectives over a named axis: psum, pmax, pmin, all_gather, psum_scatter, axis_index.

Inside `vmap(..., axis_name=n)` the named axis is the batch axis, so each batching rule
turns the collective into an ordinary reduction or transpose over it. A collective
over another (outer) name passes through unchanged and is handled by that axis's rule.
"""
from tinyjax import errors  # noqa: F401
from tinyjax.core.ir import ShapedArray
from tinyjax.ops import common, reduction, structural


def _names(axis_name):
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def _check_bound(names, op):
    from tinyjax.transforms.batching import axis_frame
    for n in names:
        if axis_frame(n) is None:
            raise NameError(f'unbound axis name: {n}. {op} needs an enclosing vmap or pmap '
                            f'with axis_name={n!r}.')


def _same_abstract(op):
    def rule(x, axis_name):
        _check_bound(axis_name, op)
        return x
    return rule


def _reduce_batch(p, reduce, unbatched):
    """Batch rule: reduce over the batch axis when this vmap's name is among the axes."""
    def rule(args, dims, frame_name, size, axis_name):
        (x,), (d,) = args, dims
        if frame_name not in axis_name:
            return p.bind(x, axis_name=axis_name), d
        rest = tuple(n for n in axis_name if n != frame_name)
        out = unbatched(x, size) if d is None else reduce(x, (d,))
        if rest:
            out = p.bind(out, axis_name=rest)
        return out, None
    return rule


def _scale(x, size):
    ew = structural.elementwise()
    return ew.mul(x, common.scalar(size, common.aval_of(x).dtype))


psum_p = common.define('psum', _same_abstract('psum'), None)
psum_p.jvp = lambda primals, tangents, axis_name: (
    psum_p.bind(primals[0], axis_name=axis_name),
    None if tangents[0] is None else psum_p.bind(tangents[0], axis_name=axis_name))
psum_p.transpose = lambda ct, x, axis_name: [
    None if ct is None else psum_p.bind(ct, axis_name=axis_name)]
psum_p.batch = _reduce_batch(psum_p, reduction.reduce_sum, _scale)


def _extremum_jvp(p):
    def rule(primals, tangents, axis_name):
        (x,), (t,) = primals, tangents
        y = p.bind(x, axis_name=axis_name)
        if t is None:
            return y, None
        ew = structural.elementwise()
        loc = ew.convert(ew.eq(x, y), common.aval_of(x).dtype)
        num = psum_p.bind(ew.mul(t, loc), axis_name=axis_name)
        return y, ew.div(num, psum_p.bind(loc, axis_name=axis_name))
    return rule


pmax_p = common.define('pmax', _same_abstract('pmax'), None)
pmax_p.jvp = _extremum_jvp(pmax_p)
pmax_p.batch = _reduce_batch(pmax_p, reduction.reduce_max, lambda x, size: x)
pmin_p = common.define('pmin', _same_abstract('pmin'), None)
pmin_p.jvp = _extremum_jvp(pmin_p)
pmin_p.batch = _reduce_batch(pmin_p, reduction.reduce_min, lambda x, size: x)
for _p in (psum_p, pmax_p, pmin_p):
    _p.needs_axis = True


# --- axis_index -----------------------------------------------------------------------
def _axis_index_abstract(axis_name):
    _check_bound((axis_name,), 'axis_index')
    from tinyjax import dtypes
    return ShapedArray((), dtypes.int32)


def _axis_index_batch(args, dims, frame_name, size, axis_name):
    from tinyjax import dtypes
    if frame_name != axis_name:
        return axis_index_p.bind(axis_name=axis_name), None
    return structural.iota(dtypes.int32, size), 0


axis_index_p = common.define('axis_index', _axis_index_abstract, None,
                             jvp=lambda p, t, axis_name: (axis_index_p.bind(axis_name=axis_name), None),
                             batch=_axis_index_batch)
axis_index_p.needs_axis = True


# --- all_gather and psum_scatter ------------------------------------------------------
def _group_size(axis_name):
    from tinyjax.transforms.batching import axis_frame
    return axis_frame(axis_name)


def _all_gather_abstract(x, axis_name, axis, tiled):
    _check_bound((axis_name,), 'all_gather')
    n = _group_size(axis_name)
    shape = list(x.shape)
    if tiled:
        shape[axis] *= n
    else:
        shape.insert(axis, n)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _all_gather_batch(args, dims, frame_name, size, axis_name, axis, tiled):
    (x,), (d,) = args, dims
    if frame_name != axis_name:
        return all_gather_p.bind(x, axis_name=axis_name, axis=axis, tiled=tiled), d
    x = common.move_batch_axis(x, d, axis, size)
    if tiled:
        shape = list(common.aval_of(x).shape)
        shape[axis:axis + 2] = [shape[axis] * shape[axis + 1]]
        x = structural.reshape(x, shape)
    return x, None


def _all_gather_transpose(ct, x, axis_name, axis, tiled):
    if ct is None:
        return [None]
    return [psum_scatter_p.bind(ct, axis_name=axis_name, scatter_dimension=axis, tiled=tiled)]


all_gather_p = common.define('all_gather', _all_gather_abstract, None,
                             transpose=_all_gather_transpose, batch=_all_gather_batch)
all_gather_p.jvp = lambda primals, tangents, **k: (
    all_gather_p.bind(primals[0], **k),
    None if tangents[0] is None else all_gather_p.bind(tangents[0], **k))
all_gather_p.needs_axis = True


def _psum_scatter_abstract(x, axis_name, scatter_dimension, tiled):
    _check_bound((axis_name,), 'psum_scatter')
    n = _group_size(axis_name)
    shape = list(x.shape)
    if tiled:
        if shape[scatter_dimension] % n:
            raise ValueError(f'psum_scatter: dimension {scatter_dimension} of size '
                             f'{shape[scatter_dimension]} is not divisible by the axis size {n}')
        shape[scatter_dimension] //= n
    else:
        if shape[scatter_dimension] != n:
            raise ValueError(f'psum_scatter: dimension {scatter_dimension} must equal the axis '
                             f'size {n} when tiled=False, got {shape[scatter_dimension]}')
        del shape[scatter_dimension]
    return ShapedArray(shape, x.dtype, x.weak_type)


def _psum_scatter_batch(args, dims, frame_name, size, axis_name, scatter_dimension, tiled):
    (x,), (d,) = args, dims
    if frame_name != axis_name:
        return psum_scatter_p.bind(x, axis_name=axis_name, scatter_dimension=scatter_dimension,
                                   tiled=tiled), d
    summed = _scale(x, size) if d is None else reduction.reduce_sum(x, (d,))
    shape = common.aval_of(summed).shape
    if tiled:
        new = list(shape)
        new[scatter_dimension:scatter_dimension + 1] = [size, shape[scatter_dimension] // size]
        summed = structural.reshape(summed, new)
    return summed, scatter_dimension


psum_scatter_p = common.define('psum_scatter', _psum_scatter_abstract, None,
                               batch=_psum_scatter_batch)
psum_scatter_p.jvp = lambda primals, tangents, **k: (
    psum_scatter_p.bind(primals[0], **k),
    None if tangents[0] is None else psum_scatter_p.bind(tangents[0], **k))
psum_scatter_p.transpose = lambda ct, x, axis_name, scatter_dimension, tiled: [
    None if ct is None else all_gather_p.bind(ct, axis_name=axis_name, axis=scatter_dimension,
                                              tiled=tiled)]
psum_scatter_p.needs_axis = True


def _no_impl(name):
    def impl(xp, *args, **params):
        raise NameError(f'{name} was called outside vmap/pmap: its axis name '
                        f'{params.get("axis_name")!r} is unbound')
    return impl


for _p in (psum_p, pmax_p, pmin_p, axis_index_p, all_gather_p, psum_scatter_p):
    _p.impl = _no_impl(_p.name)
