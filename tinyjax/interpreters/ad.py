"""Automatic differentiation as graph rewrites.

Forward mode (`jvp_eval`) walks a graph and applies each primitive's JVP rule.
Reverse mode is linearize + transpose, as in JAX:
  1. trace f to a graph; rewrite it into its JVP graph (primals, tangents) -> (outs, tangent outs);
  2. split that graph (`partial_eval`) into the part that needs only primals and the part
     that depends on tangents, which is linear in them; values crossing are residuals;
  3. run the primal part, then `backward_pass` walks the linear part backwards with each
     primitive's transpose rule.
Every step binds primitives in the surrounding context, so under jit the backward pass
is traced into the same graph as the forward pass.
"""

from tinyjax import dtypes
from tinyjax.core import trace as core_trace
from tinyjax.core.ir import Literal, Graph
from tinyjax.core.array import aval_of
from tinyjax.interpreters import base_ops


class UndefinedPrimal:
    """A linear input of a primitive being transposed: only its aval is known."""
    __slots__ = ('aval',)

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self):
        return f'UndefinedPrimal({self.aval.str_short()})'


def is_undefined(x):
    return isinstance(x, UndefinedPrimal)


def tangent_aval(aval):
    """Tangent space of a primal: the same for inexact dtypes, none for the rest."""
    return aval.strip_weak() if dtypes.is_inexact(aval.dtype) else None


add_tangents = base_ops.add_any


def jvp_eval(graph, primals, tangents):
    """Evaluate graph on primals and tangents (None = zero); returns (outs, tangent outs)."""
    penv, tenv = {}, {}

    def read(a):
        if isinstance(a, Literal):
            return a.val, None
        return penv[a], tenv.get(a)

    for v, c in zip(graph.constvars, graph.consts):
        penv[v] = c
    for v, p, t in zip(graph.invars, primals, tangents):
        penv[v], tenv[v] = p, t
    for e in graph.eqns:
        ins = [read(a) for a in e.inputs]
        ps, ts = [p for p, _ in ins], [t for _, t in ins]
        if all(t is None for t in ts):
            outs = e.prim.bind(*ps, **e.params)
            touts = [None] * len(e.outputs) if e.prim.multiple_results else None
        else:
            if e.prim.jvp is None:
                raise TypeError(f'Differentiation rule for {e.prim.name!r} not implemented; '
                                'this primitive is not differentiable.')
            outs, touts = e.prim.jvp(ps, ts, **e.params)
        if not e.prim.multiple_results:
            outs, touts = [outs], [touts]
        for v, o, t in zip(e.outputs, outs, touts):
            penv[v] = o
            if t is not None and tangent_aval(v.aval) is not None:
                tenv[v] = base_ops.convert(t, v.aval.dtype) if aval_of(t).dtype != v.aval.dtype else t
    outs = [read(a) for a in graph.outvars]
    return [p for p, _ in outs], [t for _, t in outs]


def jvp_graph(graph):
    """The graph (primals..., tangents of inexact inputs...) -> (outs..., tangent outs...)."""
    t_avals = [tangent_aval(a) for a in graph.in_avals]
    has_t = [a is not None for a in t_avals]
    n = len(graph.invars)

    def fn(*args):
        primals, ts = list(args[:n]), iter(args[n:])
        tangents = [next(ts) if h else None for h in has_t]
        outs, touts = jvp_eval(graph, primals, tangents)
        return list(outs) + [t if t is not None else _zero_tangent(o) for t, o in zip(touts, outs)]

    in_vals = list(graph.in_avals) + [a for a in t_avals if a is not None]
    g, _ = core_trace.make_graph(fn, in_vals, name='jvp')
    return g, has_t


def _zero_tangent(out):
    a = aval_of(out)
    if tangent_aval(a) is None:
        return base_ops.full(a.shape, 0, a.dtype)
    return base_ops.zeros(a.strip_weak())


def partial_eval(graph, n_known):
    """Split graph whose first n_known invars are known into a known graph producing
    (known outs + residuals) and an unknown graph of (residuals, unknown invars)."""
    unknown = set(graph.invars[n_known:])
    known_eqns, unknown_eqns = [], []
    for e in graph.eqns:
        if any(not isinstance(a, Literal) and a in unknown for a in e.inputs):
            unknown_eqns.append(e)
            unknown.update(e.outputs)
        else:
            known_eqns.append(e)
    residuals, seen = [], set()
    known_defined = set(graph.invars[:n_known]) | set(graph.constvars) | \
        {v for e in known_eqns for v in e.outputs}

    def need(a):
        if not isinstance(a, Literal) and a in known_defined and a not in seen:
            seen.add(a)
            residuals.append(a)
    for e in unknown_eqns:
        for a in e.inputs:
            need(a)
    out_known = [isinstance(v, Literal) or v not in unknown for v in graph.outvars]
    known_outs = [v for v, k in zip(graph.outvars, out_known) if k]
    known_graph = Graph(graph.invars[:n_known], known_eqns, known_outs + residuals,
                        graph.constvars, graph.consts)
    unknown_graph = Graph(residuals + graph.invars[n_known:], unknown_eqns,
                          [v for v, k in zip(graph.outvars, out_known) if not k])
    return known_graph, unknown_graph, out_known, len(residuals)


def backward_pass(lin_graph, n_res, residuals, cts_out):
    """Transpose lin_graph (linear in its invars after the first n_res) at the cotangents."""
    env = dict(zip(lin_graph.invars[:n_res], residuals))
    linear = set(lin_graph.invars[n_res:]) | {v for e in lin_graph.eqns for v in e.outputs}
    ct_env = {}

    def add_ct(v, ct):
        if ct is None or isinstance(v, Literal) or v not in linear:
            return
        ct_env[v] = add_tangents(ct_env.get(v), ct)

    for v, ct in zip(lin_graph.outvars, cts_out):
        add_ct(v, ct)
    # Forward values the linear eqns read that are not residuals: non-linear eqns inside
    # the linear graph (e.g. zeros built from literals) are evaluated first.
    for e in lin_graph.eqns:
        if not any(not isinstance(a, Literal) and a in linear for a in e.inputs) and \
                all(isinstance(a, Literal) or a in env for a in e.inputs):
            outs = e.prim.bind(*[a.val if isinstance(a, Literal) else env[a] for a in e.inputs],
                               **e.params)
            for v, o in zip(e.outputs, outs if e.prim.multiple_results else [outs]):
                env[v] = o
                linear.discard(v)
    for e in reversed(lin_graph.eqns):
        if not any(v in linear for v in e.outputs):
            continue
        cts = [ct_env.pop(v, None) for v in e.outputs]
        if all(c is None for c in cts):
            continue
        if e.prim.transpose is None:
            raise TypeError(f'Transpose rule (for reverse-mode differentiation) for '
                            f'{e.prim.name!r} not implemented')
        args = [a.val if isinstance(a, Literal) else
                (UndefinedPrimal(a.aval) if a in linear else env[a]) for a in e.inputs]
        ct = cts if e.prim.multiple_results else cts[0]
        cts_in = e.prim.transpose(ct, *args, **e.params)
        for a, c in zip(e.inputs, cts_in):
            if c is not None and not isinstance(a, Literal) and a in linear:
                if aval_of(c).dtype != a.aval.dtype:
                    c = base_ops.convert(c, a.aval.dtype)
                add_ct(a, c)
    return [ct_env.get(v) for v in lin_graph.invars[n_res:]]


class Linearized:
    """The result of linearizing a graph at a point: primal outputs plus a linear map."""

    def __init__(self, graph, primals):
        jg, has_t = jvp_graph(graph)
        n = len(graph.invars)
        known, lin, out_known, n_res = partial_eval(jg, n)
        vals = core_trace.eval_graph(known, *primals)
        n_out = len(graph.outvars)
        self.has_t = has_t
        self.out_avals = graph.out_avals
        self.primal_outs = vals[:n_out]
        assert all(out_known[:n_out]), 'a primal output depends on a tangent'
        # Tangent outputs that do not depend on the tangents are constants (zeros).
        self.t_known_vals = vals[n_out:len(vals) - n_res]
        self.residuals = vals[len(vals) - n_res:]
        self.lin, self.n_res = lin, n_res
        self.t_known = out_known[n_out:]

    def jvp(self, tangents):
        ts = [t for t, h in zip(tangents, self.has_t) if h]
        outs = iter(core_trace.eval_graph(self.lin, *self.residuals, *ts))
        known = iter(self.t_known_vals)
        return [next(known) if k else next(outs) for k in self.t_known]

    def vjp(self, cts):
        lin_cts = [c for c, k in zip(cts, self.t_known) if not k]
        cts_in = iter(backward_pass(self.lin, self.n_res, self.residuals, lin_cts))
        return [next(cts_in) if h else None for h in self.has_t]
