"""Collectives over a named axis: psum, pmax, pmin, all_gather, psum_scatter, axis_index,
and pvary, the identity that marks a value as varying along mesh axes.

Inside `vmap(..., axis_name=n)` the named axis is the batch axis, so each batching rule
turns the collective into an ordinary reduction or transpose over it. A collective
over another (outer) name passes through unchanged and is handled by that axis's rule.

Inside a shard_map body with check_vma (typed mesh axes, `typed_axes`), every value's
aval carries `vma`, the axes along which it may differ between devices; `_typed_bind`
below gives each equation its outputs' vma and, where an operand varies along fewer
axes than the operation needs, inserts `pvary` on it. Autodiff then follows the types:
pvary transposes to psum (the gradient of a replicated parameter used by every device
is the sum of the devices' gradients) and a psum of a varying value transposes to
pvary (its cotangent is already the same everywhere, so it is not summed again).
"""
import itertools

from tinyjax import errors, dtypes  # noqa: F401
from tinyjax.core import trace as core_trace
from tinyjax.core.ir import Literal, ShapedArray
from tinyjax.ops import common, reduction, structural
from tinyjax.ops import elementwise as ew
from tinyjax.interpreters.batching import axis_frame, typed_axes
from tinyjax.core.array import ArrayImpl


def _names(axis_name):
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def check_bound(names, op):
    for n in names:
        if axis_frame(n) is None:
            raise NameError(f'unbound axis name: {n}. {op} needs an enclosing vmap or pmap '
                            f'with axis_name={n!r}.')


def _same_abstract(op):
    def rule(x, axis_name):
        check_bound(axis_name, op)
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
    return ew.mul(x, common.scalar(size, common.aval_of(x).dtype))


psum_p = common.define('psum', _same_abstract('psum'), None)
psum_p.jvp = lambda primals, tangents, axis_name: (
    psum_p.bind(primals[0], axis_name=axis_name),
    None if tangents[0] is None else psum_p.bind(tangents[0], axis_name=axis_name))


def _psum_transpose(ct, x, axis_name):
    # Over typed axes the operand varies and the result does not: the cotangent is
    # already every device's, so it is only marked varying (pvary). Over untyped ones
    # (pmap, vmap, check_vma=False) it is summed again, as pmap's psum is.
    if ct is None:
        return [None]
    typed = tuple(n for n in axis_name if n in x.aval.vma)
    rest = tuple(n for n in axis_name if n not in typed)
    ct = psum_p.bind(ct, axis_name=rest) if rest else ct
    return [pvary_p.bind(ct, axes=typed) if typed else ct]


psum_p.transpose = _psum_transpose
psum_p.batch = _reduce_batch(psum_p, reduction.reduce_sum, _scale)


def _extremum_jvp(p):
    def rule(primals, tangents, axis_name):
        (x,), (t,) = primals, tangents
        y = p.bind(x, axis_name=axis_name)
        if t is None:
            return y, None
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
    check_bound((axis_name,), 'axis_index')
    return ShapedArray((), dtypes.int32)


def _axis_index_batch(args, dims, frame_name, size, axis_name):
    if frame_name != axis_name:
        return axis_index_p.bind(axis_name=axis_name), None
    return structural.iota(dtypes.int32, size), 0


axis_index_p = common.define('axis_index', _axis_index_abstract, None,
                             jvp=lambda p, t, axis_name: (axis_index_p.bind(axis_name=axis_name), None),
                             batch=_axis_index_batch)
axis_index_p.needs_axis = True


# --- all_gather and psum_scatter ------------------------------------------------------
def _group_size(axis_name):
    return axis_frame(axis_name)


def _all_gather_abstract(x, axis_name, axis, tiled):
    check_bound((axis_name,), 'all_gather')
    n = _group_size(axis_name)
    shape = list(x.shape)
    if tiled:
        shape[axis] *= n
    else:
        shape.insert(axis, n)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _all_gather_batch(args, dims, frame_name, size, axis_name, axis, tiled):
    (x,), (d,) = args, dims
    if frame_name != axis_name:      # another axis's collective: keep this batch axis first
        if d is None:
            return all_gather_p.bind(x, axis_name=axis_name, axis=axis, tiled=tiled), None
        x = common.move_batch_axis(x, d, 0, size)
        return all_gather_p.bind(x, axis_name=axis_name, axis=axis + 1, tiled=tiled), 0
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
    check_bound((axis_name,), 'psum_scatter')
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
    if frame_name != axis_name:      # another axis's collective: keep this batch axis first
        if d is None:
            return psum_scatter_p.bind(x, axis_name=axis_name,
                                       scatter_dimension=scatter_dimension, tiled=tiled), None
        x = common.move_batch_axis(x, d, 0, size)
        return psum_scatter_p.bind(x, axis_name=axis_name, scatter_dimension=scatter_dimension + 1,
                                   tiled=tiled), 0
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


# --- ppermute and all_to_all ----------------------------------------------------------
def _ppermute_abstract(x, axis_name, perm):
    check_bound((axis_name,), 'ppermute')
    n = _group_size(axis_name)
    srcs, dsts = [s for s, _ in perm], [d for _, d in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts) or \
            any(not 0 <= i < n for i in srcs + dsts):
        raise ValueError(f'ppermute sources and destinations must be unique indices into the '
                         f'axis {axis_name!r} of size {n}; got perm={perm}')
    return x


def _ppermute_batch(args, dims, frame_name, size, axis_name, perm):
    (x,), (d,) = args, dims
    if frame_name != axis_name:
        return ppermute_p.bind(x, axis_name=axis_name, perm=perm), d
    x = common.move_batch_axis(x, d, 0, size)
    shape = common.aval_of(x).shape
    zero = common.zeros(common.aval_of(x).update(shape=(1,) + shape[1:]))
    src_of = {dst: src for src, dst in perm}
    rows = [structural.slice_in_dim(x, src_of[i], src_of[i] + 1) if i in src_of else zero
            for i in range(size)]
    return structural.concatenate(rows, 0), 0


ppermute_p = common.define('ppermute', _ppermute_abstract, None, batch=_ppermute_batch)
ppermute_p.jvp = lambda primals, tangents, **k: (
    ppermute_p.bind(primals[0], **k),
    None if tangents[0] is None else ppermute_p.bind(tangents[0], **k))
ppermute_p.transpose = lambda ct, x, axis_name, perm: [
    None if ct is None else ppermute_p.bind(ct, axis_name=axis_name,
                                            perm=tuple((d, s) for s, d in perm))]
ppermute_p.needs_axis = True


def _all_to_all_abstract(x, axis_name, split_axis, concat_axis, tiled):
    check_bound((axis_name,), 'all_to_all')
    n = _group_size(axis_name)
    shape = list(x.shape)
    if shape[split_axis] % n:
        raise ValueError(f'all_to_all: split_axis {split_axis} of size {shape[split_axis]} is '
                         f'not divisible by the axis size {n}')
    if tiled:
        shape[split_axis] //= n
        shape[concat_axis] *= n
    else:
        if shape[split_axis] != n:
            raise ValueError(f'all_to_all with tiled=False needs split_axis of size {n}, got '
                             f'{shape[split_axis]}')
        del shape[split_axis]
        shape.insert(concat_axis, n)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _all_to_all_batch(args, dims, frame_name, size, axis_name, split_axis, concat_axis, tiled):
    (x,), (d,) = args, dims
    if frame_name != axis_name:      # another axis's collective: keep this batch axis first
        if d is None:
            return all_to_all_p.bind(x, axis_name=axis_name, split_axis=split_axis,
                                     concat_axis=concat_axis, tiled=tiled), None
        x = common.move_batch_axis(x, d, 0, size)
        return all_to_all_p.bind(x, axis_name=axis_name, split_axis=split_axis + 1,
                                 concat_axis=concat_axis + 1, tiled=tiled), 0
    # With the members j on axis 0, member i's result takes chunk i of every member's
    # split_axis and lays the members along concat_axis: one transpose.
    x = common.move_batch_axis(x, d, 0, size)
    shape = list(common.aval_of(x).shape)
    chunk = 1 + split_axis
    if tiled:
        shape[chunk:chunk + 1] = [size, shape[chunk] // size]
        x = structural.reshape(x, shape)
    rest = [a for a in range(1, len(shape)) if a != chunk]
    x = structural.transpose(x, [chunk] + rest[:concat_axis] + [0] + rest[concat_axis:])
    if tiled:
        out = list(common.aval_of(x).shape)
        c = 1 + concat_axis
        x = structural.reshape(x, out[:c] + [out[c] * out[c + 1]] + out[c + 2:])
    return x, 0


all_to_all_p = common.define('all_to_all', _all_to_all_abstract, None, batch=_all_to_all_batch)
all_to_all_p.jvp = lambda primals, tangents, **k: (
    all_to_all_p.bind(primals[0], **k),
    None if tangents[0] is None else all_to_all_p.bind(tangents[0], **k))
all_to_all_p.transpose = lambda ct, x, axis_name, split_axis, concat_axis, tiled: [
    None if ct is None else all_to_all_p.bind(ct, axis_name=axis_name, split_axis=concat_axis,
                                              concat_axis=split_axis, tiled=tiled)]
all_to_all_p.needs_axis = True
for _p in (ppermute_p, all_to_all_p):
    _p.impl = _no_impl(_p.name)


# --- SPMD rules: the collective across per-device shards (pmap) ------------------------
# Each takes the list of inputs (one list of per-device arrays per input) and the devices,
# and returns one list of per-device results per output. These are the device-copy
# implementations; the same results come from NCCL where it is available.
def _gather_to(shards, device):
    return [ArrayImpl(device.accept(s), device, s.weak_type) for s in shards]


def _replicate(x, devs):
    return [ArrayImpl(d.accept(x), d, x.weak_type) for d in devs]


def _combine(shards, devs, op):
    local = _gather_to(shards, devs[0])
    acc = local[0]
    for s in local[1:]:
        acc = op(acc, s)
    return acc


def _spmd_reduce(op_name):
    def rule(ins, devs, axis_name):
        op = {'sum': ew.add, 'max': ew.max, 'min': ew.min}[op_name]
        return [_replicate(_combine(ins[0], devs, op), devs)]
    return rule


psum_p.spmd = _spmd_reduce('sum')
pmax_p.spmd = _spmd_reduce('max')
pmin_p.spmd = _spmd_reduce('min')


def _axis_index_spmd(ins, devs, axis_name):
    return [[_replicate(common.scalar(i, dtypes.int32), [d])[0] for i, d in enumerate(devs)]]


axis_index_p.spmd = _axis_index_spmd


def _all_gather_spmd(ins, devs, axis_name, axis, tiled):
    local = _gather_to(ins[0], devs[0])
    if tiled:
        full = structural.concatenate(local, axis)
    else:
        full = structural.concatenate([structural.expand_dims(s, (axis,)) for s in local], axis)
    return [_replicate(full, devs)]


all_gather_p.spmd = _all_gather_spmd


def _psum_scatter_spmd(ins, devs, axis_name, scatter_dimension, tiled):
    total = _combine(ins[0], devs, ew.add)
    n = len(devs)
    size = common.aval_of(total).shape[scatter_dimension] // n
    outs = []
    for i, d in enumerate(devs):
        piece = structural.slice_in_dim(total, i * size, (i + 1) * size, 1, scatter_dimension)
        if not tiled:
            piece = structural.squeeze(piece, (scatter_dimension,))
        outs.append(_replicate(piece, [d])[0])
    return [outs]


psum_scatter_p.spmd = _psum_scatter_spmd


def _ppermute_spmd(ins, devs, axis_name, perm):
    shards = ins[0]
    src_of = {dst: src for src, dst in perm}
    outs = []
    for i, d in enumerate(devs):
        if i in src_of:
            outs.append(_replicate(shards[src_of[i]], [d])[0])
        else:
            outs.append(_replicate(common.zeros(common.aval_of(shards[i])), [d])[0])
    return [outs]


ppermute_p.spmd = _ppermute_spmd


def _all_to_all_spmd(ins, devs, axis_name, split_axis, concat_axis, tiled):
    n = len(devs)
    local = _gather_to(ins[0], devs[0])
    size = common.aval_of(local[0]).shape[split_axis] // n
    outs = []
    for i, d in enumerate(devs):
        chunks = [structural.slice_in_dim(x, i * size, (i + 1) * size, 1, split_axis) for x in local]
        if tiled:
            res = structural.concatenate(chunks, concat_axis)
        else:
            chunks = [structural.squeeze(c, (split_axis,)) for c in chunks]
            res = structural.concatenate([structural.expand_dims(c, (concat_axis,)) for c in chunks],
                                         concat_axis)
        outs.append(_replicate(res, [d])[0])
    return [outs]


all_to_all_p.spmd = _all_to_all_spmd


# --- pvary and the typing of a shard_map body -------------------------------------------
def _pvary_batch(args, dims, frame_name, size, axes):
    # Under the vmap of a mesh axis a value is varying by being batched or not: the
    # mark is dropped there (an unbatched operand stays unbatched, still correct).
    rest = tuple(n for n in axes if n != frame_name)
    return (pvary_p.bind(args[0], axes=rest) if rest else args[0]), dims[0]


pvary_p = common.define('pvary', lambda x, axes: x, lambda xp, x, axes: x,
                        transpose=lambda ct, x, axes: [
                            None if ct is None else psum_p.bind(ct, axis_name=axes)],
                        batch=_pvary_batch)
pvary_p.jvp = lambda primals, tangents, axes: (
    pvary_p.bind(primals[0], axes=axes),
    None if tangents[0] is None else pvary_p.bind(tangents[0], axes=axes))
pvary_p.identity = pvary_p.needs_axis = True     # the compiler drops it: its work is typing

# Along which axes a result varies (`varying(ins, **params) -> outs`, given the
# operands'): a reduction gives every member of its group the same value; the other
# collectives give each member its own (all_gather too, as in JAX, whose invariant form
# is a separate primitive). Their operands first vary along the collective's axes, as
# JAX's do: psum of a replicated value is the axis size times it.
for _p in (psum_p, pmax_p, pmin_p):
    _p.varying = lambda ins, axis_name: [ins[0] - set(_names(axis_name))]
for _p in (all_gather_p, psum_scatter_p, ppermute_p, all_to_all_p):
    _p.varying = lambda ins, axis_name, **_: [ins[0] | set(_names(axis_name))]
for _p in (psum_p, pmax_p, pmin_p, all_gather_p, psum_scatter_p, ppermute_p, all_to_all_p):
    _p.collective = True
axis_index_p.varying = lambda ins, axis_name: [frozenset(_names(axis_name))]
pvary_p.varying = lambda ins, axes: [ins[0] | set(axes)]


def _typed_bind(builder, prim, atoms, params):
    typed = typed_axes()
    if not typed:
        return atoms, None
    ins = [a.aval.vma for a in atoms]
    rule = getattr(prim, 'varying', None)
    collective = getattr(prim, 'collective', False)
    if rule is None or collective:
        # Operands meet at one type (control flow and calls keep theirs: their graphs
        # are typed on them).
        need = frozenset().union(*ins)
        if collective:
            need |= frozenset(_names(params['axis_name'])) & set(typed)
        atoms = [_vary(builder, a, [n for n in typed if n in need - a.aval.vma])
                 for a in atoms]
        ins = [need] * len(atoms)
    if rule is None:
        return atoms, itertools.repeat(frozenset().union(*ins))
    return atoms, [frozenset(o) & set(typed) for o in rule(ins, **params)]


def _vary(builder, atom, axes):
    if not axes or isinstance(atom, Literal):    # a literal is the same everywhere
        return atom
    return builder.process(pvary_p, [core_trace.Tracer(builder, atom)],
                           {'axes': tuple(axes)}).var


core_trace.set_typing(_typed_bind)
