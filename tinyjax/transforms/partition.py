"""Partitioning a jit graph over a mesh: the global graph and its inputs' shardings in,
one per-device graph with collectives out (jit on sharded arrays).

The global graph is interpreted while a per-device graph is traced: every value is
carried as (its local block, its spec), the spec giving per dimension the mesh axes that
split it. Each equation is rewritten by a rule that follows JAX's explicit-sharding
rules: elementwise ops keep their operands' shardings (a replicated operand is sliced
to the block it meets, with no communication); a reduction over a split dimension is a
local reduction and an all-reduce over its axes; a dot_general contracting a split
dimension is a local product and a psum, while split batch and free dimensions stay
split; broadcast, transpose, squeeze and reshapes that keep the split dimensions move
the specs along. Two different mesh axes meeting on one dimension raise JAX's error.
Any other equation runs on whole values: its split operands are all-gathered first,
which is correct and, for the ops above, never needed. The result runs as an
SpmdProgram (spmd.py), the engine of shard_map and pmap.
"""
import contextlib
import math

from tinyjax import dtypes, errors
from tinyjax.compiler.codegen import lowering_template
from tinyjax.core import trace as core_trace
from tinyjax.core.ir import Graph, Literal
from tinyjax.interpreters.batching import axis_frame_pushed
from tinyjax.ops import (
    collectives, common, elementwise, indexing, layout, reduction, sorting, structural)
from tinyjax.ops.custom import _graph_eager, shard_map_p, stop_gradient_p
from tinyjax.ops.dot_general import dot_general_p
from tinyjax.sharding.arrays import GlobalArray, local_devices, scatter
from tinyjax.sharding.specs import AxisType, NamedSharding, _normal, get_abstract_mesh, to_spec
from tinyjax.transforms.spmd import DeviceGrid, SpmdProgram

NONE = ()     # a dimension no mesh axis splits


def _merge_error(prim, specs, why):
    shown = ', '.join(str(tuple(None if not n else n[0] if len(n) == 1 else n for n in s))
                      for s in specs)
    return errors.ShardingTypeError(
        f'{prim.name} got incompatible shardings for broadcasting: {shown}: {why}. Reshard '
        'an operand first (jax.reshard or jax.device_put with a NamedSharding) so that they '
        'agree.')


def explicit_axes(mesh):
    """The mesh axes in Explicit mode: as the current mesh context says (auto_axes and
    explicit_axes change it), else as the mesh was made."""
    cur = get_abstract_mesh()
    types = cur.axis_types if cur.axis_names == mesh.axis_names else mesh.axis_types
    return frozenset(n for n, t in zip(mesh.axis_names, types) if t is AxisType.Explicit)


def _show(spec):
    return 'P(' + ', '.join('None' if not n else (repr(n[0]) if len(n) == 1 else repr(n))
                            for n in spec) + ')'


class Partitioner:
    def __init__(self, mesh):
        self.mesh, self.size = mesh, mesh.shape
        self.explicit = explicit_axes(mesh)
        self.before = {}     # a sharding constraint's token -> the layout it received

    def blocks(self, names):
        return math.prod(self.size[n] for n in names)

    def local_shape(self, shape, spec):
        return tuple(n // self.blocks(s) for n, s in zip(shape, spec))

    # -- moving a value between layouts (inside the per-device graph) ---------------------
    def block_index(self, names):
        """This device's block number along `names` (major to minor), a traced int32."""
        idx = None
        for n in names:
            i = collectives.axis_index_p.bind(axis_name=n)
            idx = i if idx is None else elementwise.add(
                elementwise.mul(idx, common.scalar(self.size[n], dtypes.int32)), i)
        return idx

    def gather_dim(self, x, d, names):
        for n in reversed(names):       # minor first: blocks end up in major-to-minor order
            x = collectives.all_gather_p.bind(x, axis_name=n, axis=d, tiled=True)
        return x

    def relayout(self, x, have, want):
        """x (laid out by `have`) laid out by `want`: split dims are gathered where `want`
        differs, then cut to this device's block where `want` splits."""
        for d, (h, w) in enumerate(zip(have, want)):
            if h and h != w:
                x = self.gather_dim(x, d, h)
        for d, (h, w) in enumerate(zip(have, want)):
            if w and h != w:
                shape = common.aval_of(x).shape
                size = shape[d] // self.blocks(w)
                starts = [common.scalar(0, dtypes.int32)] * len(shape)
                starts[d] = elementwise.mul(
                    self.block_index(w), common.scalar(size, dtypes.int32))
                sizes = list(shape)
                sizes[d] = size
                x = indexing.dynamic_slice_p.bind(x, *starts, slice_sizes=tuple(sizes))
        return x

    def replicate(self, x, spec):
        return self.relayout(x, spec, (NONE,) * len(spec))

    # -- the interpreter --------------------------------------------------------------
    def run(self, graph, placed):
        """placed: (local value, spec) per graph input -> the same per graph output."""
        env = dict(zip(graph.invars, placed))
        for v, c in zip(graph.constvars, graph.consts):
            env[v] = (c, (NONE,) * common.aval_of(c).ndim)

        def read(a):
            return (a.val, ()) if isinstance(a, Literal) else env[a]
        for e in graph.eqns:
            outs = self.equation(e, [read(a) for a in e.inputs])
            env.update(zip(e.outputs, outs))
        return [read(a) for a in graph.outvars]

    def equation(self, e, ins):
        vals, specs = [v for v, _ in ins], [s for _, s in ins]
        if e.prim in _ALWAYS:
            return _RULES[e.prim](self, e, vals, specs)
        if e.prim.eager is _graph_eager and isinstance(e.params.get('graph'), Graph):
            return self.run(e.params['graph'], ins)          # custom_jvp/vjp calls, remat
        if not any(any(s) for s in specs) and e.inputs:
            return self._whole(e, vals, specs)
        rule = _RULES.get(e.prim)
        if rule is None and not e.prim.multiple_results and len(e.outputs) == 1 and \
                lowering_template(e, e.outputs[0]) is not None:
            rule = _elementwise
        if rule is None:
            return self._whole(e, vals, specs)
        return rule(self, e, vals, specs)

    def _whole(self, e, vals, specs):
        """e on whole values: split operands gathered, results replicated."""
        vals = [self.replicate(v, s) for v, s in zip(vals, specs)]
        outs = e.prim.bind(*vals, **e.params)
        outs = outs if e.prim.multiple_results else [outs]
        return [(o, (NONE,) * common.aval_of(o).ndim) for o in outs]


# --- rules ------------------------------------------------------------------------------
def _elementwise(p, e, vals, specs):
    avals = [a.aval for a in e.inputs]
    out_nd = e.outputs[0].aval.ndim
    want = [NONE] * out_nd
    for s, a in zip(specs, avals):
        if a.ndim != out_nd:
            continue                  # a 0-d operand
        for d, names in enumerate(s):
            if names and want[d] and names != want[d]:
                if set(names + want[d]) & p.explicit:
                    raise _merge_error(e.prim, specs,
                                       f'dimension {d} is split over {want[d]} and over {names}')
                continue              # Auto axes: the first operand's layout wins
            want[d] = want[d] or names
    used = set()
    for d, names in enumerate(want):
        if set(names) & used:
            if set(names) & used & p.explicit:
                raise _merge_error(e.prim, specs, 'it produces an illegally sharded result: a '
                                   f'mesh axis would split two dimensions ({_show(want)})')
            want[d] = NONE
        used |= set(names)
    want = tuple(want)
    vals = [v if a.ndim != out_nd else p.relayout(v, s, want)
            for v, s, a in zip(vals, specs, avals)]
    return [(e.prim.bind(*vals, **e.params), want)]


def _reducer(collective):
    def rule(p, e, vals, specs):
        (x,), (s,) = vals, specs
        axes = tuple(e.params['axes'])
        out = e.prim.bind(x, **e.params)
        names = tuple(n for d in axes for n in s[d])
        if names:
            out = collective.bind(out, axis_name=names)
        return [(out, tuple(n for d, n in enumerate(s) if d not in axes))]
    return rule


def _assign(spec, d, names):
    """spec with dimension d split over `names` and no other dimension using them."""
    return tuple(names if k == d else tuple(n for n in s if n not in names)
                 if set(s) & set(names) else s for k, s in enumerate(spec))


def _dot_general(p, e, vals, specs):
    (lc, rc), (lb, rb) = e.params['dimension_numbers']
    (x, y), (sx, sy) = vals, specs
    # Paired (batch, contracting) dimensions must be split alike: the lhs's split wins,
    # a replicated side is sliced to it, a different split regathered first.
    for i, j in list(zip(lb, rb)) + list(zip(lc, rc)):
        want = sx[i] or sy[j]
        if sx[i] != want:
            x, sx = p.relayout(x, sx, _assign(sx, i, want)), _assign(sx, i, want)
        if sy[j] != want:
            y, sy = p.relayout(y, sy, _assign(sy, j, want)), _assign(sy, j, want)
    contracted = tuple(n for d in lc for n in sx[d])
    both = [d for d, j in zip(lc, rc) if specs[0][d] and specs[1][j]]
    if both and not e.params.get('sum_split_contraction') and \
            set(contracted) & p.explicit:
        la, ra = (a.aval.str_short() for a in e.inputs)
        raise errors.ShardingTypeError(
            f'dot_general of {la} and {ra}: contracting dimensions are sharded and it is '
            'ambiguous how the output should be sharded. Please specify the output sharding '
            'via the `out_sharding` parameter (jnp.dot/matmul/einsum or lax.dot_general). '
            f'Got lhs_contracting_spec={tuple(n for d in lc for n in specs[0][d])} and '
            f'rhs_contracting_spec={tuple(n for d in rc for n in specs[1][d])}')
    lfree = [d for d in range(len(sx)) if d not in lc and d not in lb]
    rfree = [d for d in range(len(sy)) if d not in rc and d not in rb]
    taken = {n for names in sx for n in names}
    clash = tuple(NONE if d in rfree and set(s) & taken else s for d, s in enumerate(sy))
    if clash != tuple(sy):       # a free rhs dimension split over an axis the lhs uses
        y, sy = p.relayout(y, sy, clash), clash
    out = e.prim.bind(x, y, **e.params)
    if contracted:
        out = collectives.psum_p.bind(out, axis_name=contracted)
    spec = tuple(sx[d] for d in lb) + tuple(sx[d] for d in lfree) + tuple(sy[d] for d in rfree)
    return [(out, spec)]


def _sharding_constraint(p, e, vals, specs):
    (x,), (s,) = vals, specs
    want, token = e.params['sharding'], e.params['token']
    if want is None:            # a transposed constraint: back to the primal's layout
        back = p.before.get(token, s)
        return [(p.relayout(x, s, back), back)]
    p.before[token] = s
    if want.mesh != p.mesh:
        what = 'with_sharding_constraint' if e.params['check'] else 'reshard'
        raise ValueError(f'{what}: its sharding is on the mesh {want.mesh!r}, but the jit '
                         f'computation runs on {p.mesh!r}; moving values between meshes inside '
                         'jit is not supported: use one mesh, or reshard outside jit')
    want = _normal(want.spec, len(s))
    err = e.params['check'] and layout.mismatch(s, want, p.explicit)
    if err:
        raise err
    return [(p.relayout(x, s, want), want)]


def _shard_map(p, e, vals, specs):
    """A shard_map on the jit's mesh runs its body on each device's block (its operands
    moved to in_specs first; its collectives become the program's); on another mesh, its
    global form is partitioned like any graph."""
    if e.params['mesh'] != p.mesh:
        return p.run(e.params['graph'], list(zip(vals, specs)))
    blocks = [p.relayout(v, s, want) for v, s, want in zip(vals, specs, e.params['in_specs'])]
    outs = core_trace.eval_graph(e.params['body'], *blocks)
    return list(zip(outs, e.params['out_specs']))


_manual_traces = [0]      # how many shard_maps have been traced (see run_sharded)


def note_manual_region():
    _manual_traces[0] += 1


def manual_traces():
    return _manual_traces[0]


def graph_meshes(graph):
    """The meshes of the graph's shard_map equations (a jit of one runs on its mesh)."""
    return {e.params['mesh'] for e in graph.eqns if e.prim is shard_map_p}


def _broadcast_in_dim(p, e, vals, specs):
    (x,), (s,) = vals, specs
    shape, bd = e.params['shape'], e.params['broadcast_dimensions']
    xa = e.inputs[0].aval
    spec = [NONE] * len(shape)
    for i, d in enumerate(bd):
        if xa.shape[i] == shape[d]:
            spec[d] = s[i]
    x = p.relayout(x, s, tuple(spec[d] for d in bd))     # a split size-1 dim cannot occur
    local = p.local_shape(shape, spec)
    return [(structural.broadcast_in_dim_p.bind(x, shape=local, broadcast_dimensions=bd),
             tuple(spec))]


def _transpose(p, e, vals, specs):
    (x,), (s,) = vals, specs
    perm = e.params['permutation']
    return [(e.prim.bind(x, **e.params), tuple(s[d] for d in perm))]


def _squeeze(p, e, vals, specs):
    (x,), (s,) = vals, specs
    dims = e.params['dimensions']
    return [(e.prim.bind(x, **e.params), tuple(n for d, n in enumerate(s) if d not in dims))]


def _reshape_groups(old, new):
    """The reshape as runs of old dimensions and the runs of new ones they become (equal
    products, in order); None when a dimension is empty."""
    if 0 in old or 0 in new:
        return None
    groups, i, j = [], 0, 0
    while i < len(old) and j < len(new):
        gi, gj, po, pn = [i], [j], old[i], new[j]
        i, j = i + 1, j + 1
        while po != pn:
            if po < pn:
                po, i = po * old[i], i + 1
                gi.append(i - 1)
            else:
                pn, j = pn * new[j], j + 1
                gj.append(j - 1)
        groups.append((gi, gj))
    if groups:                       # trailing size-1 dimensions join the last run
        groups[-1][0].extend(range(i, len(old)))
        groups[-1][1].extend(range(j, len(new)))
    return groups


def _reshape(p, e, vals, specs):
    """A reshape keeps a split where it moves whole blocks: in each run of dimensions it
    merges or splits, the major one may be split, and the split passes to the run's major
    new dimension when that divides into as many blocks. Other splits are gathered."""
    (x,), (s,) = vals, specs
    old, new = e.inputs[0].aval.shape, tuple(e.params['new_sizes'])
    groups = _reshape_groups(old, new)
    want, spec = list(s), [NONE] * len(new)
    for gi, gj in groups if groups is not None else [(list(range(len(old))), [])]:
        split = [d for d in gi if s[d]]
        if split == gi[:1] and gj and new[gj[0]] % p.blocks(s[gi[0]]) == 0:
            spec[gj[0]] = s[gi[0]]
            continue
        for d in split:
            want[d] = NONE
    x = p.relayout(x, s, tuple(want))
    return [(structural.reshape_p.bind(x, new_sizes=p.local_shape(new, spec)), tuple(spec))]


def _along_unsplit(param, single=False):
    """An op working along dimensions that must not be split (argmax's axis, concatenate's
    dimension): the other dimensions are merged as an elementwise op's would be and the op
    runs locally; a split working dimension is gathered first."""
    def rule(p, e, vals, specs):
        dims = e.params[param]
        dims = (dims,) if single else tuple(dims)
        nd = e.inputs[0].aval.ndim
        want = [NONE] * nd
        for s in specs:
            for d, names in enumerate(s):
                if d not in dims and names and not want[d]:
                    want[d] = names
        used, clean = set(), []
        for names in want:          # a mesh axis may split only one dimension
            clean.append(names if not set(names) & used else NONE)
            used |= set(names)
        want = tuple(clean)
        vals = [p.relayout(v, s, want) for v, s in zip(vals, specs)]
        out = e.prim.bind(*vals, **e.params)
        outs = out if e.prim.multiple_results else [out]
        return [(o, want if common.aval_of(o).ndim == nd else tuple(n for d, n in enumerate(want)
                                                    if d not in dims)) for o in outs]
    return rule


def _slice(p, e, vals, specs):
    """A slice keeps the split of every dimension it takes whole; a cut dimension is
    gathered first."""
    (x,), (s,) = vals, specs
    shape = e.inputs[0].aval.shape
    start, limit = e.params['start_indices'], e.params['limit_indices']
    strides = e.params['strides'] or (1,) * len(shape)
    whole = [start[d] == 0 and limit[d] == shape[d] and strides[d] == 1 for d in range(len(shape))]
    want = tuple(s[d] if whole[d] else NONE for d in range(len(shape)))
    x = p.relayout(x, s, want)
    local = p.local_shape(shape, want)
    limit = tuple(local[d] if whole[d] else limit[d] for d in range(len(shape)))
    return [(e.prim.bind(x, start_indices=start, limit_indices=limit,
                         strides=e.params['strides']), want)]


def _pad(p, e, vals, specs):
    """A pad keeps the split of every dimension it leaves unpadded."""
    (x, v), (s, _) = vals, specs
    config = e.params['padding_config']
    want = tuple(n if tuple(c) == (0, 0, 0) else NONE for n, c in zip(s, config))
    return [(e.prim.bind(p.relayout(x, s, want), v, **e.params), want)]


def _gather_layout(p, so, si, axes):
    """Layouts for a gather or scatter: the index batch dimensions keep their split (the
    index vector itself whole), the operand's indexed axes are whole, its other
    dimensions keep a split that no index dimension already uses."""
    si = tuple(si[:-1]) + (NONE,)
    used = {n for names in si for n in names}
    so = tuple(NONE if d in axes or set(names) & used else names for d, names in enumerate(so))
    return so, si


def _gather(p, e, vals, specs):
    (op, idx), (so, si) = vals, specs
    axes = e.params['axes']
    so2, si2 = _gather_layout(p, so, si, axes)
    out = e.prim.bind(p.relayout(op, so, so2), p.relayout(idx, si, si2), **e.params)
    return [(out, si2[:-1] + tuple(n for d, n in enumerate(so2) if d not in axes))]


def _scatter_add(p, e, vals, specs):
    """Each device adds its own updates into zeros; the partial sums are all-reduced over
    the axes splitting the updates' index dimensions, then added to the operand."""
    (op, idx, up), (so, si, su) = vals, specs
    axes = e.params['axes']
    so2, si2 = _gather_layout(p, so, si, axes)
    su2 = si2[:-1] + tuple(n for d, n in enumerate(so2) if d not in axes)
    op, idx, up = p.relayout(op, so, so2), p.relayout(idx, si, si2), p.relayout(up, su, su2)
    names = tuple(n for names in si2 for n in names)
    if not names:
        return [(e.prim.bind(op, idx, up, **e.params), so2)]
    part = e.prim.bind(common.zeros_like(op), idx, up, **e.params)
    return [(elementwise.add(op, collectives.psum_p.bind(part, axis_name=names)), so2)]


_RULES = {
    reduction.reduce_sum_p: _reducer(collectives.psum_p),
    reduction.reduce_max_p: _reducer(collectives.pmax_p),
    reduction.reduce_min_p: _reducer(collectives.pmin_p),
    dot_general_p: _dot_general,
    structural.broadcast_in_dim_p: _broadcast_in_dim,
    structural.transpose_p: _transpose,
    structural.squeeze_p: _squeeze,
    structural.reshape_p: _reshape,
    structural.concatenate_p: _along_unsplit('dimension', single=True),
    reduction.argmax_p: _along_unsplit('axes'),
    reduction.argmin_p: _along_unsplit('axes'),
    stop_gradient_p: _elementwise,
    layout.sharding_constraint_p: _sharding_constraint,
    structural.slice_p: _slice,
    structural.pad_p: _pad,
    indexing.gather_p: _gather,
    indexing.scatter_add_p: _scatter_add,
    sorting.sort_p: _along_unsplit('dimension', single=True),
    **{prim: _along_unsplit('axis', single=True) for prim in sorting.CUM_PRIMS.values()},
}
_RULES[shard_map_p] = _shard_map
_ALWAYS = {layout.sharding_constraint_p, shard_map_p}   # rules for unsplit operands too


def partition(graph, in_specs, mesh, out_specs=None, explicit=None):
    """(per-device graph, result specs) for `graph` whose inputs are laid out by in_specs
    (a tuple of mesh-axis-name tuples per dimension, per input)."""
    p = Partitioner(mesh)
    if explicit is not None:
        p.explicit = explicit
    local = [v.aval.update(shape=p.local_shape(v.aval.shape, s))
             for v, s in zip(graph.invars, in_specs)]
    box = []

    def per_device(*xs):
        outs = p.run(graph, list(zip(xs, in_specs)))
        if out_specs is not None:
            outs = [(p.relayout(v, s, w), w) for (v, s), w in zip(outs, out_specs)]
        box.append([s for _, s in outs])
        return [v for v, _ in outs]
    with contextlib.ExitStack() as frames:
        for name, size in mesh.shape_tuple:
            frames.enter_context(axis_frame_pushed(name, size))
        local_graph, _ = core_trace.make_graph(per_device, local, name='partitioned')
    return local_graph, box[0]


def _spec_of(x):
    if isinstance(x, GlobalArray):
        return _normal(x.sharding.spec, x.ndim)
    return (NONE,) * common.aval_of(x).ndim


def run_sharded(entry, arrays, in_shardings=None, out_shardings=None):
    """jit's call on arrays laid out over a mesh: the graph partitioned once per layout
    (cached on the jit entry) and run as an SpmdProgram; results are GlobalArrays."""
    if in_shardings is not None:
        arrays = [a if s is None else scatter(a, s) for a, s in zip(arrays, in_shardings)]
    meshes = {a.sharding.mesh for a in arrays if isinstance(a, GlobalArray)}
    meshes |= {s.mesh for s in (out_shardings or ()) if isinstance(s, NamedSharding)}
    meshes |= graph_meshes(entry.graph)
    if len(meshes) != 1:
        raise ValueError(f'jit: the sharded arguments and out_shardings must share one mesh, '
                         f'got {len(meshes)} different meshes; reshard them onto one')
    mesh, = meshes
    specs = tuple(_spec_of(a) for a in arrays)
    outs_want = None if out_shardings is None else tuple(
        None if s is None else _normal(s.spec, a.ndim)
        for s, a in zip(out_shardings, entry.graph.out_avals))
    # A graph holding the global form of a shard_map (grad or vmap of one inlined it) is
    # partitioned as on Auto axes: what the body computes per device is manual, and its
    # batched products and operands may meet in layouts Explicit mode would refuse.
    explicit = frozenset() if getattr(entry, 'manual', False) else explicit_axes(mesh)
    key = (mesh, specs, outs_want, explicit)
    hit = entry.sharded.get(key)
    if hit is None:
        local, out_specs = partition(entry.graph, specs, mesh, outs_want, explicit)
        devs = list(mesh.devices.flat)
        hit = entry.sharded[key] = (
            SpmdProgram(local, DeviceGrid(mesh.shape_tuple, devs), local_devices(NamedSharding(mesh))),
            out_specs)
    program, out_specs = hit
    blocks = [a.blocks if isinstance(a, GlobalArray) and a.sharding.mesh == mesh else
              scatter(a, NamedSharding(mesh, to_spec(s))).blocks
              for a, s in zip(arrays, specs)]
    outs = program(blocks)
    return [GlobalArray(o, NamedSharding(mesh, to_spec(s)), a.shape, a.weak_type)
            for o, s, a in zip(outs, out_specs, entry.graph.out_avals)]



# --- ops outside jit on sharded arrays ---------------------------------------------------
class _OneOp:
    """A one-equation graph, run as jit runs a graph on sharded arrays."""

    def __init__(self, graph):
        self.graph, self.sharded = graph, {}


_one_ops = {}


def apply_sharded(prim, vals, params):
    """An op outside jit with a GlobalArray operand runs as JAX runs it, partitioned over
    the array's mesh: results keep their shardings, and JAX's sharding errors apply."""
    avals = tuple(v.aval for v in vals)
    try:
        key = (prim, tuple(sorted(params.items())), avals)
        entry = _one_ops.get(key)
    except TypeError:         # a parameter that cannot be hashed: trace every time
        key = entry = None
    if entry is None:
        def one(*xs):
            out = prim.bind(*xs, **params)
            return out if prim.multiple_results else [out]
        with core_trace.outside_traces():
            entry = _OneOp(core_trace.make_graph(one, avals, name=prim.name)[0])
        if key is not None:
            if len(_one_ops) > 4096:
                _one_ops.clear()
            _one_ops[key] = entry
    with core_trace.outside_traces():
        return run_sharded(entry, list(vals))


GlobalArray.apply_sharded = staticmethod(apply_sharded)
