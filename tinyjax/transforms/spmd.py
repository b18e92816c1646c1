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
from tinyjax.backends import collectives as collective_backends
from tinyjax.compiler.program import Program
from tinyjax.core.array import ArrayImpl
from tinyjax.core import trace as core_trace
from tinyjax.core.ir import Eqn, Graph, Literal, Var
from tinyjax.ops.custom import _graph_eager
from tinyjax import lax
from tinyjax.transforms.batching import vmap


def is_split_point(eqn, axis_name):
    """A collective over pmap's axis: needs every device's value, so it ends a segment."""
    if getattr(eqn.prim, 'spmd', None) is None:
        return False
    names = eqn.params.get('axis_name')
    names = names if isinstance(names, tuple) else (names,)
    if axis_name not in names:
        return False
    if len(names) > 1:
        raise NotImplementedError(f'{eqn.prim.name} over several axis names {names} inside '
                                  'pmap; nest the collectives instead')
    return True


def collective_params(eqn, axis_name):
    params = dict(eqn.params)
    params['axis_name'] = axis_name
    return params


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


def hides_collective(eqn, axis_name):
    """A control-flow equation (scan, while_loop, cond) whose body uses a collective over
    axis_name: it cannot be split, so it runs with the devices' shards stacked on one
    device and vmapped over the axis name (see SpmdProgram._stacked)."""
    return not _holds_collective(eqn, axis_name) and any(
        is_split_point(e, axis_name) or hides_collective(e, axis_name)
        or _holds_collective(e, axis_name) for g in _graphs_in(eqn.params) for e in g.eqns)


def _holds_collective(eqn, axis_name):
    """Does eqn carry a graph (checkpoint, custom_jvp/vjp call) with a collective over
    axis_name somewhere inside? Such an equation is inlined before splitting."""
    g = eqn.params.get('graph')
    if not isinstance(g, Graph) or eqn.prim.eager is not _graph_eager:
        return False
    return any(is_split_point(e, axis_name) or _holds_collective(e, axis_name) for e in g.eqns)


def inline_collective_holders(graph, axis_name):
    """graph with every equation that hides a collective inside its own graph replaced by
    that graph's equations (recursively), so the collective becomes a split point. This
    is how the forward pass of such primitives runs; their autodiff rules have already
    been applied when pmap's graph was traced."""
    if not any(_holds_collective(e, axis_name) for e in graph.eqns):
        return graph
    sub = {}
    constvars, consts = list(graph.constvars), list(graph.consts)

    def read(a):
        return sub.get(a, a) if isinstance(a, Var) else a

    def emit(eqns, out):
        for e in eqns:
            if _holds_collective(e, axis_name):
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


def split_at_collectives(graph, axis_name):
    """[Segment, Collective, Segment, ...]: segments with no outputs are dropped."""
    runs, current = [], []
    for e in graph.eqns:
        if is_split_point(e, axis_name) or hides_collective(e, axis_name):
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
    """A pmapped graph compiled for one ordered set of devices.

    `devs` are all members of the mapped axis (several processes' devices under
    tinyjax.distributed); this process runs the members that are local to it.
    """

    def __init__(self, graph, axis_name, devs, local_devs, donated=(), fuse=True):
        graph = inline_collective_holders(graph, axis_name)
        self.graph, self.axis_name, self.fuse = graph, axis_name, fuse
        self.devs, self.local = list(devs), list(local_devs)
        self.steps = split_at_collectives(graph, axis_name)
        self.collectives = collective_backends.for_devices(self.devs) \
            if any(s.kind == 'collective' and not hides_collective(s.eqn, axis_name)
                   for s in self.steps) else None
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

    def _stacked(self, eqn, ins):
        return run_stacked(eqn, ins, self.axis_name, self.local,
                           spans_processes=len(self.local) != len(self.devs))

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
                ins = [read(a) for a in e.inputs]
                if hides_collective(e, self.axis_name):
                    outs = self._stacked(e, ins)
                else:
                    outs = self.collectives.run(e.prim, ins, collective_params(e, self.axis_name))
                for v, o in zip(e.outputs, outs):
                    env[v] = o
            for v in self.drop_after[i]:
                env.pop(v, None)
        return [read(a) for a in g.outvars]


def run_stacked(eqn, ins, axis_name, devs, spans_processes=False):
    """eqn on every device's shards at once: the shards stacked on the first device, the
    primitive vmapped over axis_name (collectives inside are then vmap's), the results
    handed back to each device. Correct, not fast: a fallback for control flow whose
    body communicates."""
    if spans_processes:
        raise NotImplementedError(
            f'{eqn.prim.name} with a collective over {axis_name!r} in its body under a pmap '
            'spanning several processes; move the collective out of the loop or branch')
    home = devs[0]
    stacked = [lax.concatenate([lax.expand_dims(_put(x, home), (0,)) for x in per_dev], 0)
               for per_dev in ins]
    outs = vmap(lambda *a: eqn.prim.bind(*a, **eqn.params), axis_name=axis_name)(*stacked)
    outs = outs if eqn.prim.multiple_results else [outs]
    return [[_put(o[k], d) for k, d in enumerate(devs)] for o in outs]


def spmd_eval(graph, shard_args, axis_name, devs):
    """Run graph on every device op by op; collectives over axis_name combine across
    devices through the same collective backend as compiled pmap."""
    graph = inline_collective_holders(graph, axis_name)
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
    backend = None
    for e in graph.eqns:
        ins = [read(a) for a in e.inputs]
        if hides_collective(e, axis_name):
            outs = run_stacked(e, ins, axis_name, devs)
        elif is_split_point(e, axis_name):
            backend = backend or collective_backends.for_devices(devs)
            outs = backend.run(e.prim, ins, collective_params(e, axis_name))
        else:
            per = [e.prim.bind(*[x[i] for x in ins], **e.params) for i in range(n)]
            outs = [list(o) for o in zip(*per)] if e.prim.multiple_results else [per]
        for v, o in zip(e.outputs, outs):
            env[v] = o
    return [read(a) for a in graph.outvars]
