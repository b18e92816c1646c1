"""Running one shard's graph on every device: compiled segments between collectives.

pmap traces its function once for one shard. `split_at_collectives` cuts that graph at
every collective over pmap's axis: what lies between two collectives is an ordinary
graph, compiled by jit's compiler into one `Program` per device; a collective needs every
device's value at once, so it is a step of its own, run by the collective backend
(backends/collectives.py: NCCL, device copies, or the coordinator between processes).
`SpmdProgram` runs the steps in order: segment k on every device (each queued on its own
device's stream, so GPUs overlap), then the collective across devices, then segment k+1.

`spmd_eval` is the same thing interpreted op by op (no compilation), kept as the
reference the compiled path is tested against.
"""
import contextlib
import math

import numpy as np

from tinyjax.backends import collectives as collective_backends
from tinyjax.compiler.program import Program
from tinyjax.core.array import ArrayImpl
from tinyjax.core import trace as core_trace
from tinyjax.core.ir import Eqn, Graph, Literal, Var
from tinyjax.interpreters.batching import axis_frame_pushed
from tinyjax.ops import common
from tinyjax.ops.custom import _graph_eager
from tinyjax.ops.structural import concatenate, expand_dims, reshape
from tinyjax.transforms.batching import vmap


class DeviceGrid:
    """The devices an SPMD program runs on, as a grid with a name per axis: a mesh, or
    pmap's one axis. `devs` lists them in row-major order of the grid."""

    def __init__(self, axes, devs):
        self.axes = tuple((n, int(s)) for n, s in axes)
        self.names = tuple(n for n, _ in self.axes)
        self.devs = list(devs)
        if math.prod(s for _, s in self.axes) != len(self.devs):
            raise ValueError(f'a device grid {dict(self.axes)} needs '
                             f'{math.prod(s for _, s in self.axes)} devices, got {len(self.devs)}')

    @classmethod
    def one_axis(cls, name, devs):
        return cls(((name, len(devs)),), devs)

    def groups(self, names):
        """Positions (into devs) of the devices that communicate over `names`: one list
        per group, members ordered by their coordinates along `names`, major to minor."""
        idx = np.arange(len(self.devs)).reshape([s for _, s in self.axes] or [1])
        inner = [self.names.index(n) for n in names]
        outer = [i for i in range(len(self.axes)) if i not in inner]
        size = math.prod(self.axes[i][1] for i in inner)
        return idx.transpose(outer + inner).reshape(-1, size).tolist()


def _names_of(eqn):
    names = eqn.params.get('axis_name')
    return names if isinstance(names, tuple) else (names,)


def is_split_point(eqn, grid):
    """A collective over the grid's axes: needs other devices' values, so it ends a segment."""
    if getattr(eqn.prim, 'spmd', None) is None:
        return False
    names = _names_of(eqn)
    inside = [n in grid.names for n in names]
    if not any(inside):
        return False
    if not all(inside):
        raise NotImplementedError(
            f'{eqn.prim.name} over axis names {names}, of which only some are axes of the '
            f'device grid {grid.names}; use separate collectives for the inner and outer axes')
    return True


def trace_for_grid(flat_fun, block_avals, grid, name, typed=False):
    """The graph of one device's work: flat_fun traced on one block's avals, with every
    grid axis bound (so collectives over them have their sizes). pmap and shard_map both
    trace their functions here; typed (shard_map's check_vma), the values carry the axes
    they vary along (collectives.py)."""
    with contextlib.ExitStack() as frames:
        for axis, size in grid.axes:
            frames.enter_context(axis_frame_pushed(axis, size, typed))
        graph, _ = core_trace.make_graph(flat_fun, block_avals, name=name)
    return graph


class Segment:
    """A run of ordinary equations: inputs are the values it reads from earlier steps,
    outputs the values later steps (or the result) read."""
    kind = 'segment'

    def __init__(self, eqns, later_reads):
        defined, ins, seen = set(), [], set()
        for e in eqns:
            for a in e.inputs:
                if isinstance(a, Var) and a not in defined and a not in seen:
                    seen.add(a)
                    ins.append(a)
            defined.update(e.outputs)
        outs = [v for e in eqns for v in e.outputs if v in later_reads]
        self.graph = Graph(ins, list(eqns), outs)
        self.programs = None       # one Program per local device, built on first use


class Collective:
    kind = 'collective'

    def __init__(self, eqn):
        self.eqn = eqn


def _graphs_in(params):
    for v in params.values():
        if isinstance(v, Graph):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from (x for x in v if isinstance(x, Graph))


def hides_collective(eqn, grid):
    """A control-flow equation (scan, while_loop, cond) whose body uses a collective over
    axis_name: it cannot be split, so it runs with the devices' shards stacked on one
    device and vmapped over the axis name (see SpmdProgram._stacked)."""
    return not _holds_collective(eqn, grid) and any(
        is_split_point(e, grid) or hides_collective(e, grid)
        or _holds_collective(e, grid) for g in _graphs_in(eqn.params) for e in g.eqns)


def _holds_collective(eqn, grid):
    """Does eqn carry a graph (checkpoint, custom_jvp/vjp call) with a collective over
    axis_name somewhere inside? Such an equation is inlined before splitting."""
    g = eqn.params.get('graph')
    if not isinstance(g, Graph) or eqn.prim.eager is not _graph_eager:
        return False
    return any(is_split_point(e, grid) or _holds_collective(e, grid) for e in g.eqns)


def inline_collective_holders(graph, grid):
    """graph with every equation that hides a collective inside its own graph replaced by
    that graph's equations (recursively), so the collective becomes a split point. This
    is how the forward pass of such primitives runs; their autodiff rules have already
    been applied when pmap's graph was traced."""
    if not any(_holds_collective(e, grid) for e in graph.eqns):
        return graph
    sub = {}
    constvars, consts = list(graph.constvars), list(graph.consts)

    def read(a):
        return sub.get(a, a) if isinstance(a, Var) else a

    def emit(eqns, out):
        for e in eqns:
            if _holds_collective(e, grid):
                inner = e.params['graph']
                for v, c in zip(inner.constvars, inner.consts):
                    constvars.append(v)
                    consts.append(c)
                for v, a in zip(inner.invars, e.inputs):
                    sub[v] = read(a)
                emit(inner.eqns, out)
                for v, r in zip(e.outputs, inner.outvars):
                    sub[v] = read(r)
            else:
                out.append(Eqn(e.prim, [read(a) for a in e.inputs], e.params, e.outputs))
        return out
    eqns = emit(graph.eqns, [])
    return Graph(graph.invars, eqns, [read(a) for a in graph.outvars], constvars, consts)


def split_at_collectives(graph, grid):
    """[Segment, Collective, Segment, ...]: segments with no outputs are dropped."""
    runs, current = [], []
    for e in graph.eqns:
        if is_split_point(e, grid) or hides_collective(e, grid):
            runs.append(current)
            runs.append(Collective(e))
            current = []
        else:
            current.append(e)
    runs.append(current)
    # What each run's successors read (walking backwards), to give segments their outputs.
    reads = set(a for a in graph.outvars if isinstance(a, Var))
    steps = []
    for r in reversed(runs):
        if isinstance(r, Collective):
            steps.append(r)
            reads.update(a for a in r.eqn.inputs if isinstance(a, Var))
            continue
        seg = Segment(r, set(reads))
        if seg.graph.outvars:
            steps.append(seg)
            reads.update(seg.graph.invars)
    return steps[::-1]


def _put(x, device):
    if isinstance(x, ArrayImpl) and x.device is device:
        return x
    x = core_trace.as_array(x)
    return ArrayImpl(device.accept(x), device, x.weak_type)


class SpmdProgram:
    """A graph run on every device of a grid: compiled segments between collectives.

    `grid.devs` are all members (several processes' devices under
    tinyjax.distributed); this process runs the members that are local to it.
    """

    def __init__(self, graph, grid, local_devs, donated=(), fuse=True):
        graph = inline_collective_holders(graph, grid)
        self.graph, self.grid, self.fuse = graph, grid, fuse
        self.devs, self.local = grid.devs, list(local_devs)
        self.steps = split_at_collectives(graph, grid)
        self._consts = None
        # After which step each value is read for the last time (so it can be dropped),
        # and which donated arguments a segment may overwrite: those it reads last.
        last = {}
        for i, s in enumerate(self.steps):
            ins = s.graph.invars if s.kind == 'segment' else s.eqn.inputs
            for a in ins:
                if isinstance(a, Var):
                    last[a] = i
        outs = set(a for a in graph.outvars if isinstance(a, Var))
        self.drop_after = [[] for _ in self.steps]
        for v, i in last.items():
            if v not in outs:
                self.drop_after[i].append(v)
        donated_vars = set(graph.invars[i] for i in donated)
        self.donated = []
        for i, s in enumerate(self.steps):
            self.donated.append(tuple(
                k for k, v in enumerate(s.graph.invars)
                if v in donated_vars and last.get(v) == i and v not in outs)
                if s.kind == 'segment' else ())

    def _programs(self, i, seg):
        if seg.programs is None:
            first = Program(seg.graph, self.local[0], self.fuse, self.donated[i])
            seg.programs = [first] + [first.on_device(d) for d in self.local[1:]]
        return seg.programs

    def compile(self):
        for i, s in enumerate(self.steps):
            if s.kind == 'segment':
                for p in self._programs(i, s):
                    p._compile()

    def __call__(self, shard_args):
        """shard_args: per graph input, one array per local device; returns the same
        layout per graph output."""
        g, local = self.graph, self.local
        if self._consts is None:
            self._consts = [[_put(c, d) for d in local] for c in g.consts]
        env = dict(zip(g.constvars, self._consts))
        env.update(zip(g.invars, shard_args))

        def read(a):
            if isinstance(a, Literal):
                return [_put(a.val, d) for d in local]
            return env[a]

        for i, s in enumerate(self.steps):
            if s.kind == 'segment':
                progs = self._programs(i, s)
                ins = [env[v] for v in s.graph.invars]
                per_dev = [p([x[k] for x in ins], ()) for k, p in enumerate(progs)]
                for j, v in enumerate(s.graph.outvars):
                    env[v] = [outs[j] for outs in per_dev]
            else:
                e = s.eqn
                outs = run_collective(e, [read(a) for a in e.inputs], self.grid, self.local)
                for v, o in zip(e.outputs, outs):
                    env[v] = o
            for v in self.drop_after[i]:
                env.pop(v, None)
        return [read(a) for a in g.outvars]


def run_collective(eqn, ins, grid, local):
    """One collective step: each group of devices that communicates over the equation's
    axes runs it through the collective backend for that group (NCCL, device copies or
    the coordinator); a control-flow equation hiding collectives runs stacked. `ins`
    holds one array per local device; a process takes part in the groups holding its
    devices (under several processes a group may span them, or lie wholly elsewhere)."""
    if hides_collective(eqn, grid):
        return run_stacked(eqn, ins, grid, local, spans_processes=len(local) != len(grid.devs))
    slot = {id(d): j for j, d in enumerate(local)}
    outs = [[None] * len(local) for _ in eqn.outputs]
    for members in grid.groups(_names_of(eqn)):
        mine = [slot[id(grid.devs[k])] for k in members if id(grid.devs[k]) in slot]
        if not mine:
            continue
        part = [[x[j] for j in mine] for x in ins]
        backend = collective_backends.for_devices([grid.devs[k] for k in members])
        for o, r in zip(outs, backend.run(eqn.prim, part, dict(eqn.params))):
            for j, v in zip(mine, r):
                o[j] = v
    return outs


def run_stacked(eqn, ins, grid, devs, spans_processes=False):
    """eqn on every device's shards at once: the shards stacked on the first device in
    the grid's shape, the primitive vmapped over every grid axis (collectives inside are
    then vmap's), the results handed back to each device. Correct, not fast: a fallback
    for control flow whose body communicates."""
    if spans_processes:
        raise NotImplementedError(
            f'{eqn.prim.name} with a collective over {grid.names} in its body under a pmap '
            'spanning several processes; move the collective out of the loop or branch')
    home = devs[0]
    sizes = [s for _, s in grid.axes]
    stacked = [reshape(concatenate([expand_dims(_put(x, home), (0,)) for x in per_dev], 0),
                       sizes + list(common.aval_of(per_dev[0]).shape)) for per_dev in ins]
    f = lambda *a: eqn.prim.bind(*a, **eqn.params)
    for name in reversed(grid.names):
        f = vmap(f, axis_name=name)
    outs = f(*stacked)
    outs = outs if eqn.prim.multiple_results else [outs]
    flat = [reshape(o, [len(devs)] + list(common.aval_of(o).shape[len(sizes):])) for o in outs]
    return [[_put(o[k], d) for k, d in enumerate(devs)] for o in flat]


def spmd_eval(graph, shard_args, grid, devs=None):
    """Run graph on every device op by op; collectives over the grid's axes combine across
    devices through the same collective backend as compiled SPMD programs. `grid` may be
    pmap's axis name, with `devs` its devices."""
    if not isinstance(grid, DeviceGrid):
        grid = DeviceGrid.one_axis(grid, devs)
    devs = grid.devs
    graph = inline_collective_holders(graph, grid)
    n = len(devs)
    env = {}
    const_cache = {}

    def read(a):
        if isinstance(a, Literal):
            return [_put(a.val, d) for d in devs]
        return env[a]

    for v, c in zip(graph.constvars, graph.consts):
        env[v] = const_cache.setdefault(id(c), [_put(c, d) for d in devs])
    for v, shards in zip(graph.invars, shard_args):
        env[v] = shards
    for e in graph.eqns:
        ins = [read(a) for a in e.inputs]
        if is_split_point(e, grid) or hides_collective(e, grid):
            outs = run_collective(e, ins, grid, devs)
        else:
            per = [e.prim.bind(*[x[i] for x in ins], **e.params) for i in range(n)]
            outs = [list(o) for o in zip(*per)] if e.prim.multiple_results else [per]
        for v, o in zip(e.outputs, outs):
            env[v] = o
    return [read(a) for a in graph.outvars]
