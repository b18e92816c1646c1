"""The fusion partitioner: which equations run together in one kernel.

Every equation lands in a group:
  loop    elementwise and structural work over one output shape (one kernel),
  row     reductions over the same rows, with their prologue/epilogue (one kernel),
  dot     dot_general (cuBLAS on a GPU, NumPy on the CPU),
  opaque  anything else, run by the primitive's NumPy/CuPy rule.

Phase 1 walks the graph backwards. An elementwise equation joins the group of its
consumers when they all sit in one group and its value is needed nowhere else (it is
then computed inside that kernel, at whatever index the consumer reads it). A cheap one
(a broadcast, a convert, an add) used by several groups is duplicated into each, within
a bound. Otherwise it starts a group whose result is written to memory.

Phase 2 merges groups forward: a consumer into its producer (multi-output fusion when
the producer's result is still needed elsewhere), an elementwise group into the row
group whose results it reads (softmax's division, layernorm's scale), a row group into
another over the same rows, and siblings reading the same input. A merge is kept only
if it adds no cycle between groups and the code generator accepts the merged group —
the generator is the judge of what one kernel can compute, so the partitioner needs no
separate model of index arithmetic.
"""
import math
from collections import defaultdict

from tinyjax.compiler import codegen, codegen_reduce
from tinyjax.compiler.codegen import NotFusible
from tinyjax.compiler.lowering import Gemm
from tinyjax.core.ir import Eqn, Graph, Var

MAX_DUPLICATES = 4
MAX_GROUP_EQNS = 256
def _cheap(e):
    """Cheap enough to recompute in each consumer (the primitive's lowering says)."""
    return getattr(e.prim.lowering, 'cheap', False)


def classify(e):
    if isinstance(e.prim.lowering, Gemm):
        return 'dot'
    if codegen_reduce.is_row_reduction(e) and all(
            codegen.supported_dtype(v.aval.dtype) for v in e.inputs + e.outputs):
        return 'reduce'
    if codegen.is_fusible(e):
        return 'ew'
    return 'opaque'


class Group:
    def __init__(self, kind, eqns, space):
        self.kind, self.eqns, self.space = kind, frozenset(eqns), space
        self.result = None      # the generator's output once validated


class Kernel:
    """One generated kernel: its source and what it reads, writes and computes."""

    def __init__(self, name, kind, source, inputs, outputs, itype, n, cols, prims, flops,
                 scatter_reads, shape, eqns, layout=None):
        self.name, self.kind, self.source, self.eqns = name, kind, source, eqns
        self.layout = layout    # row kernels: codegen_reduce.RowLayout
        self.inputs, self.outputs = inputs, outputs
        self.itype, self.n, self.cols, self.prims, self.shape = itype, n, cols, prims, shape
        self.flops = flops
        self.inplace_ok = set(v for v in inputs if v not in scatter_reads)
        self.inplace_by_output = None   # merged kernels: output -> inputs it may overwrite
        self.bytes_read = sum(v.aval.size * v.aval.dtype.itemsize for v in inputs)
        self.bytes_written = sum(v.aval.size * v.aval.dtype.itemsize for v in outputs)
        self.sizes = [(n, itype)]   # each grid-stride loop's length and index type

    def inplace_inputs(self, out):
        """Inputs whose memory output `out` may take: read only at the kernel's own index
        and, in a merged kernel, only by the member that writes `out` (members run one
        after another, and another member may not have read its input yet)."""
        if self.inplace_by_output is not None:
            return self.inplace_by_output.get(out, ())
        return self.inplace_ok

    def __repr__(self):
        return (f'Kernel({self.name}: {"+".join(self.prims)} over {self.shape}, '
                f'{self.bytes_read}B read, {self.bytes_written}B written, {self.flops} flops)')


class Partition:
    def __init__(self, graph, fuse):
        self.graph, self.eqns = graph, graph.eqns
        self.outset = set(v for v in graph.outvars if isinstance(v, Var))
        self.consumers = defaultdict(list)
        self.defining = {}
        for k, e in enumerate(self.eqns):
            for a in e.inputs:
                if isinstance(a, Var):
                    self.consumers[a].append(k)
            for o in e.outputs:
                self.defining[o] = k
        self.kinds = [classify(e) for e in self.eqns]
        self.groups = {}
        self.member = defaultdict(set)
        self.next_id = 0
        if fuse:
            self._phase1()
            self._phase2()
        else:
            for k in range(len(self.eqns)):
                self._new_group(k)

    # -- bookkeeping ---------------------------------------------------------------------
    def _add(self, group):
        gid = self.next_id
        self.next_id += 1
        self.groups[gid] = group
        for k in group.eqns:
            self.member[k].add(gid)
        return gid

    def _remove(self, gid):
        for k in self.groups[gid].eqns:
            self.member[k].discard(gid)
        del self.groups[gid]

    def _new_group(self, k):
        kind, e = self.kinds[k], self.eqns[k]
        if kind == 'ew':
            return self._add(Group('loop', [k], tuple(e.outputs[0].aval.shape)))
        if kind == 'reduce':
            return self._add(Group('row', [k], codegen_reduce.row_space(e)))
        return self._add(Group(kind, [k], None))

    def roots(self, group):
        """Values of the group that must be written to memory, in graph order."""
        out = []
        for k in sorted(group.eqns):
            for v in self.eqns[k].outputs:
                # Read from memory by some copy of a consumer (a duplicated consumer sits in
                # several groups) whose group does not compute it itself.
                if v in self.outset or any(k not in self.groups[h].eqns
                                           for c in self.consumers[v] for h in self.member[c]):
                    out.append(v)
        return out

    def inputs(self, group):
        defined = {o for k in group.eqns for o in self.eqns[k].outputs}
        seen = []
        for k in sorted(group.eqns):
            for a in self.eqns[k].inputs:
                if isinstance(a, Var) and a not in defined and a not in seen:
                    seen.append(a)
        return seen

    # -- phase 1: pull producers into their consumers' group ------------------------------
    def _phase1(self):
        for k in reversed(range(len(self.eqns))):
            e = self.eqns[k]
            if self.kinds[k] == 'ew':
                cgroups = set()
                materialize = any(o in self.outset for o in e.outputs)
                for c in (c for o in e.outputs for c in self.consumers[o]):
                    for g in self.member[c]:
                        if self.groups[g].kind in ('loop', 'row'):
                            cgroups.add(g)
                        else:
                            materialize = True
                if not materialize and len(cgroups) == 1 or (
                        not materialize and 1 < len(cgroups) <= MAX_DUPLICATES
                        and _cheap(e)):
                    for g in cgroups:
                        old = self.groups[g]
                        self._remove(g)
                        self._add(Group(old.kind, old.eqns | {k}, old.space))
                    continue
            self._new_group(k)

    # -- phase 2: merge groups forward ------------------------------------------------------
    def _dag(self):
        succ = defaultdict(set)
        for gid, g in self.groups.items():
            for v in self.inputs(g):
                if v in self.defining:
                    for p in self.member[self.defining[v]]:
                        if p != gid:
                            succ[p].add(gid)
        return succ

    @staticmethod
    def _reaches(succ, a, b, skip_direct):
        frontier = [s for s in succ[a] if not (skip_direct and s == b)]
        seen = set(frontier)
        while frontier:
            x = frontier.pop()
            if x == b:
                return True
            for s in succ[x]:
                if s not in seen:
                    seen.add(s)
                    frontier.append(s)
        return False

    def _merged_space(self, a, b):
        def big(shape):
            return [s for s in shape if s != 1]
        if a.kind == b.kind == 'loop':
            return ('loop', a.space) if big(a.space) == big(b.space) else None
        if a.kind == b.kind == 'row':
            return ('row', a.space) if a.space == b.space else None
        if {a.kind, b.kind} == {'loop', 'row'}:
            row, loop = (a, b) if a.kind == 'row' else (b, a)
            x, axes = row.space
            kept = [s for i, s in enumerate(x) if i not in axes]
            if tuple(loop.space) == tuple(x) or big(loop.space) == big(kept):
                return ('row', row.space)
        return None

    def _try_merge(self, ga, gb, failed):
        a, b = self.groups[ga], self.groups[gb]
        key = (a.eqns, b.eqns)
        if key in failed:
            return False
        ms = self._merged_space(a, b)
        if ms is None or len(a.eqns | b.eqns) > MAX_GROUP_EQNS:
            return False
        cand = Group(ms[0], a.eqns | b.eqns, ms[1])
        self._remove(ga)
        self._remove(gb)
        gid = self._add(cand)
        if self.validate(cand):
            return True
        self._remove(gid)
        self._add_back(ga, a)
        self._add_back(gb, b)
        failed.add(key)
        return False

    def _add_back(self, gid, group):
        self.groups[gid] = group
        for k in group.eqns:
            self.member[k].add(gid)

    def _phase2(self):
        failed = set()
        changed = True
        while changed:
            changed = False
            succ = self._dag()
            order = sorted(self.groups, key=lambda g: min(self.groups[g].eqns))
            for p in order:
                for c in sorted(succ[p], key=lambda g: min(self.groups[g].eqns)):
                    if self._reaches(succ, p, c, True):
                        continue
                    if self._try_merge(p, c, failed):
                        changed = True
                        break
                if changed:
                    break
            if changed:
                continue
            by_input = defaultdict(list)
            for gid in order:
                if self.groups[gid].kind in ('loop', 'row'):
                    for v in self.inputs(self.groups[gid]):
                        by_input[v].append(gid)
            for v, gs in by_input.items():
                for i in range(len(gs)):
                    for j in range(i + 1, len(gs)):
                        a, b = gs[i], gs[j]
                        if a not in self.groups or b not in self.groups:
                            continue
                        if self._reaches(succ, a, b, False) or self._reaches(succ, b, a, False):
                            continue
                        if self._try_merge(a, b, failed):
                            changed = True
                            break
                    if changed:
                        break
                if changed:
                    break

    # -- code generation ----------------------------------------------------------------
    def validate(self, g, name='k'):
        roots = self.roots(g)
        eqns = [self.eqns[k] for k in sorted(g.eqns)]
        try:
            if g.kind == 'loop':
                g.result = codegen.generate_loop(name, eqns, roots, g.space) + (None, None, None)
            else:
                g.result = codegen_reduce.generate_row(name, eqns, roots, *g.space)
        except NotFusible:
            g.result = None
            return False
        g.roots = roots
        return True

    def ordered_groups(self):
        succ = self._dag()
        indeg = defaultdict(int)
        for p, cs in succ.items():
            for c in cs:
                indeg[c] += 1
        ready = sorted((g for g in self.groups if indeg[g] == 0),
                       key=lambda g: min(self.groups[g].eqns))
        out = []
        while ready:
            g = ready.pop(0)
            out.append(g)
            for c in succ[g]:
                indeg[c] -= 1
                if indeg[c] == 0:
                    ready.append(c)
            ready.sort(key=lambda g: min(self.groups[g].eqns))
        assert len(out) == len(self.groups), 'fusion produced a cycle'
        return [self.groups[g] for g in out]


def _kernel_name(kind, index, eqns):
    """k<index>_ (r<index>_ for row kernels) and the first three primitives the kernel
    computes, leaving out those whose lowering is not `named` (moves and conversions)."""
    prims = list(dict.fromkeys(e.prim for e in eqns))
    shown = [p.name for p in prims if p.lowering.named] or [p.name for p in prims]
    return f'{"r" if kind == "row" else "k"}{index}_' + '_'.join(shown[:3])


def recompute_in_kernels(eqns):
    """A cheap elementwise value that a product (or an opaque step) reads is stored; the
    fusible equations reading it get a copy of its equation instead, which their kernel
    recomputes from its one operand of its size (the gradient of a ReLU that feeds a
    product reads the pre-activation it reads anyway, not the ReLU's stored output)."""
    users = defaultdict(list)
    for e in eqns:
        for a in e.inputs:
            if isinstance(a, Var):
                users[a].append(classify(e) in ('ew', 'reduce'))
    out, copies = [], {}
    for e in eqns:
        if copies and classify(e) in ('ew', 'reduce'):
            e = Eqn(e.prim, [copies.get(a, a) if isinstance(a, Var) else a for a in e.inputs],
                    e.params, e.outputs)
        out.append(e)
        seen = users[e.outputs[0]] if len(e.outputs) == 1 else ()
        if classify(e) == 'ew' and _cheap(e) and any(seen) and not all(seen) and sum(
                isinstance(a, Var) and a.aval.size >= e.outputs[0].aval.size
                for a in e.inputs) <= 1:
            copies[e.outputs[0]] = Var(e.outputs[0].aval)
            out.append(Eqn(e.prim, e.inputs, e.params, [copies[e.outputs[0]]]))
    return out


def plan(graph, fuse=True):
    """Partition `graph` and generate each kernel. Returns a list of steps in run order:
    ('kernel', Kernel) | ('dot', eqn) | ('opaque', eqn)."""
    if fuse:
        graph = Graph(graph.invars, recompute_in_kernels(graph.eqns), graph.outvars,
                      graph.constvars, graph.consts)
    part = Partition(graph, fuse)
    steps = []
    for g in part.ordered_groups():
        if g.kind in ('dot', 'opaque'):
            steps.append((g.kind, part.eqns[next(iter(g.eqns))]))
            continue
        prims = [part.eqns[k].prim.name for k in sorted(g.eqns)]
        name = _kernel_name(g.kind, len(steps), [part.eqns[k] for k in sorted(g.eqns)])
        if not part.validate(g, name):
            for k in sorted(g.eqns):   # should not happen: run the members one by one
                steps.append(('opaque', part.eqns[k]))
            continue
        em, src, it, rows, cols, layout = g.result
        if g.kind == 'loop':
            n, shape = math.prod(g.space), tuple(g.space)
            flops = em.flops * n
        else:
            n, shape = rows, tuple(g.space[0])
            flops = em.flops
        steps.append(('kernel', Kernel(name, g.kind, src, list(em.params), list(g.roots), it, n,
                                       cols, prims, flops, em.scatter_reads, shape,
                                       [part.eqns[k] for k in sorted(g.eqns)], layout)))
    return merge_independent_loops(steps) if fuse else steps


MAX_MERGED = 16


def merge_independent_loops(steps):
    """Consecutive loop kernels none of which reads another's outputs become one launch
    (horizontal fusion): an optimizer updating each parameter, the bias and weight
    gradients of a layer. Each member keeps its own grid-stride loop over the whole grid;
    the launch runs them one after the other (codegen.generate_merged)."""
    out, run = [], []

    def flush():
        if len(run) > 1:
            out.append(('kernel', _merged(run)))
        else:
            out.extend(('kernel', k) for k in run)
        run.clear()

    for kind, item in steps:
        mergeable = kind == 'kernel' and item.kind == 'loop' and item.n > 0
        if mergeable and run and len(run) < MAX_MERGED and not any(
                v in m.outputs for m in run for v in item.inputs):
            run.append(item)
            continue
        flush()
        if mergeable:
            run.append(item)
        else:
            out.append((kind, item))
    flush()
    return out


def _merged(members):
    name = 'h' + members[0].name[1:]
    src = codegen.generate_merged(name, [(m.name, m.source, len(m.inputs), len(m.outputs))
                                         for m in members])
    it = 'long long' if any(m.itype != 'int' for m in members) else 'int'
    k = Kernel(name, 'loop', src, [v for m in members for v in m.inputs],
               [v for m in members for v in m.outputs], it, max(m.n for m in members), 1,
               [p for m in members for p in m.prims], sum(m.flops for m in members), (),
               (sum(m.n for m in members),), [e for m in members for e in m.eqns])
    k.sizes = [s for m in members for s in m.sizes]
    # In place only over an input no other member reads: members run one after another.
    reads = defaultdict(int)
    for m in members:
        for v in set(m.inputs):
            reads[v] += 1
    k.inplace_ok = {v for m in members for v in m.inplace_ok if reads[v] == 1}
    k.inplace_by_output = {o: {v for v in m.inplace_ok if reads[v] == 1}
                           for m in members for o in m.outputs}
    return k
