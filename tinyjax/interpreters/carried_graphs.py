"""Rules over graphs that primitives carry (cond's branches, a loop's body): trace them,
linearize, transpose and batch them with the machinery of `ad` and `batching`, so the
control-flow primitives in `tinyjax/ops/` state their rules in terms of whole graphs.

Values a user's function closes over that belong to an enclosing trace become explicit
inputs of its graph (`trace_closed`), so every transform sees them as ordinary operands.
"""
from tinyjax.core import trace as core_trace
from tinyjax.core.array import aval_of
from tinyjax.core.ir import Graph
from tinyjax.interpreters import ad, base_ops
from tinyjax.interpreters.ad import tangent_aval
from tinyjax.interpreters.batching import batch_eval


def trace_closed(fn, avals, name):
    """Trace fn(*avals) abstractly. Tracers of enclosing traces it closes over become
    leading inputs of the graph (returned as `consts`, to be passed as operands), so a
    transform of the outer function sees them; concrete arrays stay graph constants."""
    graph, _ = core_trace.make_graph(fn, avals, name=name)
    hoist = [i for i, c in enumerate(graph.consts) if isinstance(c, core_trace.Tracer)]
    if not hoist:
        return graph, []
    keep = [i for i in range(len(graph.consts)) if i not in hoist]
    g = Graph([graph.constvars[i] for i in hoist] + graph.invars, graph.eqns, graph.outvars,
              [graph.constvars[i] for i in keep], [graph.consts[i] for i in keep])
    return g, [graph.consts[i] for i in hoist]


def trace_internal(fn, avals, name='body'):
    """Trace a function a rule builds from closed graphs: it captures no tracers."""
    graph, consts = trace_closed(fn, avals, name)
    assert not consts, 'a control-flow rule captured a traced value'
    return graph


def with_inputs(graph, invars):
    return Graph(invars, graph.eqns, graph.outvars, graph.constvars, graph.consts)


def coerce(x, aval):
    """x with exactly `aval`'s dtype and weak type: graphs a loop or branch feeds back or
    joins must agree to the bit, and weak types drift (a weak input times a strong one)."""
    a = aval_of(x)
    if a.dtype == aval.dtype and a.weak_type == aval.weak_type:
        return x
    return base_ops.convert(x, aval.dtype, weak_type=aval.weak_type)


def zeros_of(aval):
    return base_ops.zeros(aval)


def jvp_graph(graph, nonzero, instantiate):
    """The graph (primals..., tangents of the `nonzero` inputs...) -> (outs..., tangents).

    A tangent output is present where it is nonzero or `instantiate` asks for it (inexact
    outputs only); returns (graph, which outputs have a tangent)."""
    n = len(graph.invars)
    t_avals = [tangent_aval(a) for a, z in zip(graph.in_avals, nonzero) if z]
    out_nz = []

    def fn(*args):
        primals, ts = list(args[:n]), iter(args[n:])
        tangents = [next(ts) if z else None for z in nonzero]
        outs, touts = ad.jvp_eval(graph, primals, tangents)
        out_nz[:] = [tangent_aval(a) is not None and (t is not None or inst)
                     for a, t, inst in zip(graph.out_avals, touts, instantiate)]
        extra = [coerce(t, tangent_aval(a)) if t is not None else zeros_of(tangent_aval(a))
                 for a, t, nz in zip(graph.out_avals, touts, out_nz) if nz]
        return [coerce(o, a) for o, a in zip(outs, graph.out_avals)] + extra
    g = trace_internal(fn, list(graph.in_avals) + t_avals, 'jvp')
    return g, list(out_nz)


def linearize_graph(graph, nonzero, instantiate):
    """Split the JVP of `graph` into a primal part and a linear part, as JAX's partial
    evaluation does, so a primitive's JVP binds two primitives: the first computes the
    outputs and the residuals (needs only primals), the second maps tangents to tangents
    (linear, so reverse mode can transpose it).

    Returns (known, lin, out_nz, residual avals, which residuals are known inputs):
      known: primals -> outs + residuals
      lin:   residuals + nonzero tangents -> tangents of the outputs in out_nz
    """
    jg, out_nz = jvp_graph(graph, nonzero, instantiate)
    n, n_out = len(graph.invars), len(graph.outvars)
    known, lin, out_known, n_res = ad.partial_eval(jg, n)
    res_vars = known.outvars[len(known.outvars) - n_res:]
    # A residual that is a primal input (a loop constant, say) need not be recomputed.
    res_input = [graph_invar_index(jg, v, n) for v in res_vars]
    res_avals = [v.aval for v in res_vars]
    t_known = out_known[n_out:]
    n_known_t = sum(t_known)

    def known_fn(*primals):
        vals = core_trace.eval_graph(known, *primals)
        return vals[:n_out] + vals[n_out + n_known_t:]
    k = trace_internal(known_fn, graph.in_avals, 'primal')
    t_avals = [v.aval for v in jg.outvars[n_out:]]

    def lin_fn(*args):
        outs = iter(core_trace.eval_graph(lin, *args))
        # A tangent that does not depend on the input tangents is zero (linearity).
        return [zeros_of(a) if kn else next(outs) for a, kn in zip(t_avals, t_known)]
    lin_in = res_avals + [v.aval for v in jg.invars[n:]]
    lg = trace_internal(lin_fn, lin_in, 'linear')
    return k, lg, out_nz, res_avals, res_input


def graph_invar_index(graph, v, n):
    for i in range(n):
        if graph.invars[i] is v:
            return i
    return None


def transpose_graph(graph, undefined, ct_avals, out_avals):
    """A graph (known inputs..., output cotangents...) -> cotangents of the undefined
    inputs, each of `out_avals` (zeros where none flows)."""
    known_idx = [i for i, u in enumerate(undefined) if not u]
    lin_idx = [i for i, u in enumerate(undefined) if u]
    ordered = with_inputs(graph, [graph.invars[i] for i in known_idx + lin_idx])
    nk = len(known_idx)

    def fn(*args):
        got = ad.backward_pass(ordered, nk, list(args[:nk]), list(args[nk:]))
        return [coerce(c, a) if c is not None else zeros_of(a) for c, a in zip(got, out_avals)]
    in_avals = [graph.invars[i].aval for i in known_idx] + list(ct_avals)
    return trace_internal(fn, in_avals, 'transpose')


_vmap_axis = [None]   # axis name of the vmap whose control-flow batching rule is running


def active_axis_name():
    """The axis name of the vmap whose control-flow batching rule is running."""
    return _vmap_axis[0]


def graph_uses_axis(graph):
    """Whether a collective (psum over a vmap's axis name, ...) occurs in graph or in a
    graph nested in it: then the primitive must be batched even with unbatched inputs."""
    for e in graph.eqns:
        nested = [g for v in e.params.values()
                  for g in (v if isinstance(v, (tuple, list)) else [v]) if isinstance(g, Graph)]
        if nested:
            if any(graph_uses_axis(g) for g in nested):
                return True
        elif getattr(e.prim, 'needs_axis', False):
            return True
    return False


def set_batch_rule(prim, rule, graphs_of):
    """Install rule(args, dims, size, **params) as prim's batching rule. The primitive
    asks batch_eval for the vmap's axis name and size (`needs_axis`), so collectives in
    its graphs see the axis; without them and with no batched input it runs unchanged."""
    def batch(args, dims, frame_name=None, size=None, **params):
        if all(d is None for d in dims) and not any(graph_uses_axis(g) for g in graphs_of(params)):
            outs = prim.bind(*args, **params)
            return outs, [None] * len(outs)
        saved, _vmap_axis[0] = _vmap_axis[0], frame_name
        try:
            return rule(args, dims, size, **params)
        finally:
            _vmap_axis[0] = saved
    prim.batch = batch
    prim.needs_axis = True


def batch_graph(graph, in_batched, size, force_out=None):
    """The graph over inputs batched at axis 0 where `in_batched`; an output is batched
    (at 0) when it depends on a batched input or `force_out` asks. Returns (graph,
    out_batched)."""
    avals = [a.update(shape=(size,) + a.shape) if b else a
             for a, b in zip(graph.in_avals, in_batched)]
    force = force_out or [False] * len(graph.outvars)
    out_b = []

    def fn(*xs):
        outs, dims = batch_eval(graph, list(xs), [0 if b else None for b in in_batched], size,
                                _vmap_axis[0])
        out_b[:] = [d is not None or f for d, f in zip(dims, force)]
        return [base_ops.move_batch_axis(o, d, 0, size) if b else o
                for o, d, b in zip(outs, dims, out_b)]
    g = trace_internal(fn, avals, 'batched')
    return g, list(out_b)


def to_batched(x, d, want, size, axis=0):
    """x with its batch axis at `axis` if want (broadcast when unbatched), else as is."""
    if not want:
        return x
    return base_ops.move_batch_axis(x, d, axis, size)


def graph_fixpoint(step, start):
    """Iterate a monotone flag vector (which carry parts are batched / have tangents) to
    its fixed point: a loop carry can acquire the property on a later iteration."""
    flags = list(start)
    while True:
        new = [a or b for a, b in zip(flags, step(flags))]
        if new == flags:
            return flags
        flags = new
