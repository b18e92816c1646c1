"""shard_map: a function of one device's block, run on every device of a mesh.

`in_specs` say how each argument is cut into blocks (a PartitionSpec per argument, or a
prefix tree of them); the function sees one block, may call collectives over the mesh
axes (psum, all_gather, ppermute, axis_index, ...), and `out_specs` say how the blocks it
returns form the global results. A mesh axis missing from an output's spec means the
output is the same on every device along that axis; with check_vma that is checked from
the graph (which values vary along which axes) before anything runs.

Called on concrete arrays, the function is traced once per signature for one block and
run as an SpmdProgram (spmd.py, the engine pmap uses too): compiled segments on every
device, collectives between them per group of devices along the named axes. Called under
another transformation (jit, grad, vmap), the same graph is evaluated under nested vmaps
over the mesh axes, each named for its axis, so derivatives and batching of the whole
shard_map come from vmap's rules.

With check_vma (the default) the body is traced typed, as JAX's is: each value carries the
mesh axes it varies along (an argument those its in_specs name), an invariant operand
meeting a varying one goes through an identity `pvary`, and autodiff inside the body
follows the types (ops/collectives.py), so `grad` of a loss over a sharded batch already
returns the gradient summed over the devices.
"""
import functools
import math

from tinyjax import tree_util
from tinyjax.config import trace_context
from tinyjax.core import trace as core_trace
from tinyjax.core.array import ArrayImpl
from tinyjax.core.trace import eval_graph
from tinyjax.sharding.arrays import GlobalArray, local_devices, scatter
from tinyjax.ops import common, structural
from tinyjax.ops.custom import shard_map_p
from tinyjax.sharding.specs import Mesh, NamedSharding, PartitionSpec, _normal, get_mesh
from tinyjax.transforms import batching
from tinyjax.transforms import partition
from tinyjax.transforms.jit import _shared_caches
from tinyjax.transforms.spmd import DeviceGrid, SpmdProgram, trace_for_grid
from tinyjax.transforms.tracing import flatten_fun, prefix_leaves


def _spec_leaves(specs, tree, what):
    """One PartitionSpec per leaf of `tree`: `specs` is a prefix tree of specs."""
    return prefix_leaves(specs, tree, lambda s: isinstance(s, PartitionSpec),
                         f'shard_map {what}', PartitionSpec())


class _Entry:
    def __init__(self, program, out_tree, out_avals, out_specs):
        self.program, self.out_tree = program, out_tree
        self.out_avals, self.out_specs = out_avals, out_specs


class ShardMapped:
    def __init__(self, fun, mesh, in_specs, out_specs, axis_names, check_vma):
        functools.update_wrapper(self, fun)
        self.fun, self._mesh, self.in_specs, self.out_specs = fun, mesh, in_specs, out_specs
        self.axis_names, self.check_vma = frozenset(axis_names or ()), check_vma
        # The compiled programs belong to the function, in the table jit and pmap keep
        # theirs in: `shard_map(f, ...)(x)` inline in a loop traces once.
        self._cache = _shared_caches(fun, 'spmd', False)[0]
        self.trace_count = 0       # how many times this shard_map traced

    @property
    def mesh(self):
        mesh = self._mesh if self._mesh is not None else get_mesh()
        if mesh is None:
            raise ValueError('shard_map needs a mesh: pass mesh=jax.make_mesh(...) or call it '
                             'under `with jax.set_mesh(mesh):`')
        return mesh

    def __call__(self, *args):
        mesh = self.mesh
        leaves, in_tree = tree_util.tree_flatten((args, {}))
        specs = self._in_specs(args, leaves)
        avals = [common.aval_of(x) for x in leaves]
        local = [_block_aval(a, s, mesh, f'argument {i}', self.check_vma) for i, (a, s) in
                 enumerate(zip(avals, specs))]
        if any(isinstance(x, core_trace.Tracer) for x in leaves) or core_trace.current_builder():
            graph, out_tree, out_specs = self._trace(mesh, in_tree, local)
            return _traced(graph, mesh, leaves, specs, out_tree, out_specs)
        out_specs = tree_util.tree_flatten(self.out_specs,
                                           is_leaf=lambda s: isinstance(s, PartitionSpec))
        key = ('shard_map', in_tree, tuple(avals), tuple(specs), mesh, out_specs[1],
               tuple(out_specs[0]), self.check_vma, trace_context())
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = self._compile(mesh, in_tree, local)
        blocks = [_blocks(x, NamedSharding(mesh, s), a.str_short())
                  for x, s, a in zip(leaves, specs, avals)]
        outs = entry.program(blocks)
        results = [GlobalArray(o, NamedSharding(mesh, s), _global_shape(a.shape, s, mesh),
                               a.weak_type)
                   for o, a, s in zip(outs, entry.out_avals, entry.out_specs)]
        return tree_util.tree_unflatten(entry.out_tree, results)

    def _in_specs(self, args, leaves):
        if self.in_specs is not None:
            return _spec_leaves(self.in_specs, args, 'in_specs')
        # Without in_specs each argument's own layout is its spec (a plain array's: unsplit;
        # a jit argument's tracer carries its array's).
        specs = []
        for x in leaves:
            if isinstance(x, GlobalArray):
                specs.append(x.sharding.spec)
            elif not isinstance(x, core_trace.Tracer):
                specs.append(PartitionSpec(*[None] * common.aval_of(x).ndim))
            elif isinstance(getattr(x.aval, 'sharding', None), NamedSharding):
                specs.append(x.aval.sharding.spec)
            else:
                raise ValueError('shard_map: in_specs were not given, and a traced argument '
                                 f'({x.aval.str_short()}, computed inside the trace) carries no '
                                 'sharding to take them from; pass in_specs=')
        return specs

    def _trace(self, mesh, in_tree, local):
        """The body's graph for one block, typed with the axes each value varies along
        when check_vma (so autodiff inside follows JAX's rules), its output tree and the
        outputs' specs; an output varying along an axis its out_specs omit is an error."""
        store = []
        flat = flatten_fun(self.fun, in_tree, store)
        grid = DeviceGrid(mesh.shape_tuple, list(mesh.devices.flat))
        graph = trace_for_grid(flat, local, grid, getattr(self.fun, '__name__', 'fun'),
                               typed=self.check_vma)
        out_tree = store[0]
        out_specs = _spec_leaves(self.out_specs, tree_util.tree_unflatten(
            out_tree, graph.out_avals), 'out_specs')
        for i, (a, s) in enumerate(zip(graph.out_avals, out_specs)):
            _check_spec(s, a.ndim, mesh, f'output {i}')
            missing = sorted(a.vma - _axes_of(s), key=str)
            if missing:
                raise ValueError(
                    f'shard_map applied to the function {self.fun.__name__!r} was given '
                    f'out_specs which require replication which can\'t be statically '
                    f'inferred given the mesh: output {i} (of shape {a.str_short()}) has '
                    f'out_specs {s}, but it varies along mesh axes {tuple(missing)}. Reduce '
                    f'it over them (lax.psum, pmean, all_gather), name them in its '
                    f'out_specs, or pass check_vma=False.')
        return graph, out_tree, out_specs

    def _compile(self, mesh, in_tree, local):
        self.trace_count += 1
        graph, out_tree, out_specs = self._trace(mesh, in_tree, local)
        program = SpmdProgram(graph, DeviceGrid(mesh.shape_tuple, list(mesh.devices.flat)),
                              local_devices(NamedSharding(mesh)))
        return _Entry(program, out_tree, graph.out_avals, out_specs)


def _check_spec(spec, ndim, mesh, what):
    names = _normal(spec)
    if len(names) > ndim:
        raise ValueError(f'shard_map: {what} has rank {ndim} but its spec {spec} names '
                         f'{len(names)} dimensions')
    for dim in names:
        for n in dim:
            if n not in mesh.axis_names:
                raise ValueError(f'shard_map: {what} spec {spec} names {n!r}, which is not an '
                                 f'axis of the mesh {mesh.axis_names}')


def _block_aval(aval, spec, mesh, what, typed):
    _check_spec(spec, aval.ndim, mesh, what)
    shape = []
    for dim, (n, names) in enumerate(zip(aval.shape, _normal(spec, aval.ndim))):
        k = math.prod(mesh.shape[a] for a in names)
        if n % k:
            raise ValueError(f'shard_map: {what} of shape {aval.str_short()} has in_specs '
                             f'{spec}, which splits its dimension {dim} (size {n}) into {k} '
                             f'blocks over mesh axes {names}; {n} is not divisible by {k}. '
                             'Pad the array or use a mesh axis that divides it.')
        shape.append(n // k)
    # An argument varies along the mesh axes its spec names (typed: check_vma).
    return aval.update(shape=tuple(shape), vma=_axes_of(spec) if typed else frozenset())


def _global_shape(shape, spec, mesh):
    return tuple(n * math.prod(mesh.shape[a] for a in names)
                 for n, names in zip(shape, _normal(spec, len(shape))))


def _blocks(x, sharding, what):
    if isinstance(x, GlobalArray) and x.sharding == sharding:
        return x.blocks
    nd = common.aval_of(x).ndim
    have = x.sharding.spec if isinstance(x, GlobalArray) else PartitionSpec(*[None] * nd)
    if sharding.explicit_axes() and _normal(have, nd) != _normal(sharding.spec, nd):
        # On a mesh with Explicit axes an argument's type carries its sharding (a plain
        # array's: unsplit), and shard_map takes it as it is, as JAX does: no reshard.
        raise ValueError(f'in_specs passed to shard_map: {sharding.spec} does not match the '
                         f'specs of the input: {have} for arg: {what}. Lay the argument out '
                         f'first with jax.device_put(x, NamedSharding(mesh, {sharding.spec})) or '
                         'jax.reshard, or leave in_specs out to take the arguments\' specs.')
    if not isinstance(x, ArrayImpl):
        x = core_trace.as_array(x)
    return scatter(x, sharding).blocks


# --- under another transformation: nested vmaps over the mesh axes ----------------------
def _to_mesh_major(x, spec, mesh):
    """x (global) -> (sizes of the mesh axes named in spec, in mesh order) + block shape."""
    names = _normal(spec, common.aval_of(x).ndim)
    shape = common.aval_of(x).shape
    split, where = [], {}          # the expanded shape; where each mesh axis landed
    for n, dim in zip(shape, names):
        for a in dim:
            where[a] = len(split)
            split.append(mesh.shape[a])
        split.append(n // math.prod(mesh.shape[a] for a in dim))
    x = structural.reshape(x, tuple(split))
    front = [where[a] for a in mesh.axis_names if a in where]
    rest = [i for i in range(len(split)) if i not in front]
    return structural.transpose(x, tuple(front + rest))


def _from_mesh_major(y, spec, mesh):
    """y (one leading axis per mesh axis, in mesh order) -> the global output with spec
    `spec`. Along a mesh axis the spec omits, the first device's block is the result (as
    out_specs promise: with check_vma the types prove the blocks equal)."""
    absent = tuple(i for i, a in enumerate(mesh.axis_names) if a not in _axes_of(spec))
    for i in absent:
        y = structural.slice_in_dim(y, 0, 1, 1, i)
    y = structural.squeeze(y, absent) if absent else y
    present = [a for a in mesh.axis_names if a in _axes_of(spec)]
    block = common.aval_of(y).shape[len(present):]
    names = _normal(spec, len(block))
    order = []
    for i, dim in enumerate(names):
        order += [present.index(a) for a in dim] + [len(present) + i]
    y = structural.transpose(y, tuple(order))
    shape = tuple(n * math.prod(mesh.shape[a] for a in dim) for n, dim in zip(block, names))
    return structural.reshape(y, shape)


def _axes_of(spec):
    return {n for dim in _normal(spec) for n in dim}


def _as_nested_vmaps(graph, mesh, leaves, specs, out_tree, out_specs):
    """The body's graph evaluated under one vmap per mesh axis, named for it."""
    moved = [_to_mesh_major(x, s, mesh) for x, s in zip(leaves, specs)]

    def f(*xs):
        return eval_graph(graph, *xs)
    for name in reversed(mesh.axis_names):       # the innermost vmap is the last mesh axis
        in_axes = tuple(0 if name in _axes_of(s) else None for s in specs)
        f = batching.vmap(f, in_axes=in_axes, out_axes=0, axis_name=name,
                          axis_size=mesh.shape[name])
    outs = f(*moved)
    return tree_util.tree_unflatten(
        out_tree, [_from_mesh_major(o, s, mesh) for o, s in zip(outs, out_specs)])


def _traced(body, mesh, leaves, specs, out_tree, out_specs):
    """shard_map inside a trace: one shard_map equation holding its global form (nested
    vmaps) for every transformation and the body with its specs for the partitioner."""
    partition.note_manual_region()

    def global_form(*xs):
        return tree_util.tree_leaves(_as_nested_vmaps(body, mesh, xs, specs, out_tree, out_specs))
    graph, _ = core_trace.make_graph(global_form, [common.aval_of(x) for x in leaves],
                                     name='shard_map')
    outs = shard_map_p.bind(
        *leaves, graph=graph, body=body, mesh=mesh,
        in_specs=tuple(_normal(s, common.aval_of(x).ndim) for s, x in zip(specs, leaves)),
        out_specs=tuple(_normal(s, a.ndim) for s, a in zip(out_specs, graph.out_avals)))
    return tree_util.tree_unflatten(out_tree, outs)


def shard_map(f=None, /, *, out_specs, in_specs=None, mesh=None, axis_names=frozenset(),
              check_vma=True, check_rep=None, auto=None):
    """Map f over blocks of its arguments, one block per device of `mesh` (jax.shard_map).
    Without f, returns a decorator."""
    if check_rep is not None:       # the name before JAX 0.7
        check_vma = check_rep
    if mesh is not None and not isinstance(mesh, Mesh):
        raise TypeError(f'shard_map: mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}')

    def wrap(fun):
        if not callable(fun):
            raise TypeError(f'shard_map requires a callable, got {fun!r}')
        return ShardMapped(fun, mesh, in_specs, out_specs, axis_names, check_vma)
    return wrap if f is None else wrap(f)
