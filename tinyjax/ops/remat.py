"""checkpoint (remat) and checkpoint_name: the backward pass recomputes what the
checkpoint policy does not let the forward pass save.

A policy is called as `policy(prim, *input_avals, **params)` on each equation of the
forward computation (the function's own equations and those its JVP rules add, such as
sin's cos) and answers whether that equation's outputs may be saved for the backward
pass. `Recompute` (and any falsy answer) means no; `Saveable`, an `Offloadable` or any
truthy answer means yes. tinyjax keeps an offloadable value where it is (no host
offload), so it is saved like a saveable one.
"""
from typing import NamedTuple

from tinyjax.core.ir import Graph, Literal, dce
from tinyjax.core.trace import eval_graph
from tinyjax.interpreters import ad
from tinyjax.ops import common
from tinyjax.ops.custom import _batch_graph_prim, _graph_abstract, _graph_eager, custom_jvp_call_p


class _PolicyAnswer:
    def __init__(self, name, save):
        self.name, self.save = name, save

    def __bool__(self):
        return self.save

    def __repr__(self):
        return self.name


Saveable = _PolicyAnswer('Saveable', True)
Recompute = _PolicyAnswer('Recompute', False)


class Offloadable(NamedTuple):
    """Save the value in another memory space (`src` -> `dst`, e.g. 'device' ->
    'pinned_host'); tinyjax saves it in place."""
    src: str
    dst: str

    def __bool__(self):
        return True


# --- checkpoint_name: an identity that names a value for the policies ----------------
name_p = common.define(
    'name', lambda x, name: x, lambda xp, x, name: x,
    jvp=lambda primals, tangents, name: (name_p.bind(primals[0], name=name), tangents[0]),
    transpose=lambda ct, x, name: [ct],
    batch=lambda args, dims, name: (name_p.bind(args[0], name=name), dims[0]))
name_p.identity = True


# --- checkpoint ----------------------------------------------------------------------
def _saveable(policy, eqn):
    if policy is None:
        return False
    return bool(policy(eqn.prim, *[a.aval for a in eqn.inputs], **eqn.params))


def split_by_policy(known, needed, policy):
    """Which known values to save and which known equations to recompute.

    `needed` are the known values the tangent computation reads. A needed value made by
    an equation the policy allows is saved; otherwise its equation is recomputed in the
    tangent computation, and the values that equation reads are needed in turn. Inputs
    and constants are always at hand. Returns (saved vars, equations to recompute), both
    in program order."""
    producer = {v: e for e in known.eqns for v in e.outputs}
    order = {e: i for i, e in enumerate(known.eqns)}
    saved, recompute, seen = set(), set(), set()
    stack = [v for v in needed if not isinstance(v, Literal)]
    while stack:
        v = stack.pop()
        if v in seen or v not in producer:
            continue
        seen.add(v)
        e = producer[v]
        if e in recompute:
            continue
        if _saveable(policy, e):
            saved.add(v)
        else:
            recompute.add(e)
            stack.extend(a for a in e.inputs if not isinstance(a, Literal))
    saved_vars = sorted(saved, key=lambda v: (order[producer[v]], producer[v].outputs.index(v)))
    return saved_vars, sorted(recompute, key=order.get)


def _remat_jvp(primals, tangents, graph, prevent_cse=True, policy=None):
    """Two checkpoint equations: the forward (outputs plus the values the policy saves)
    and the tangent map, which recomputes the rest from the inputs and saved values."""
    jg, has_t = ad.jvp_graph(graph)
    n, n_out = len(graph.invars), len(graph.outvars)
    known, lin, _, n_res = ad.partial_eval(jg, n)
    t_outs = jg.outvars[n_out:]
    saved, recompute = split_by_policy(known, list(lin.invars[:n_res]) + list(t_outs), policy)
    forward = dce(Graph(jg.invars[:n], known.eqns, jg.outvars[:n_out] + saved,
                        jg.constvars, jg.consts))
    tangent_map = dce(Graph(jg.invars[:n] + saved + jg.invars[n:], recompute + lin.eqns, t_outs,
                            jg.constvars, jg.consts))
    vals = remat_p.bind(*primals, graph=forward, prevent_cse=prevent_cse, policy=policy)
    outs, saved_vals = vals[:n_out], vals[n_out:]
    ts = [t if t is not None else common.zeros(ad.tangent_aval(common.aval_of(p)))
          for t, p, h in zip(tangents, primals, has_t) if h]
    touts = remat_p.bind(*primals, *saved_vals, *ts, graph=tangent_map, prevent_cse=prevent_cse,
                         policy=policy)
    return outs, touts


def _remat_transpose(cts, *args, graph, prevent_cse=True, policy=None):
    known_idx = [i for i, a in enumerate(args) if not ad.is_undefined(a)]
    lin_idx = [i for i, a in enumerate(args) if ad.is_undefined(a)]
    ordered = Graph([graph.invars[i] for i in known_idx + lin_idx], graph.eqns, graph.outvars,
                    graph.constvars, graph.consts)
    known, lin, out_known, n_res = ad.partial_eval(ordered, len(known_idx))
    vals = eval_graph(known, *[args[i] for i in known_idx])   # the rematerialised forward
    residuals = vals[len(vals) - n_res:]
    lin_cts = [c for c, k in zip(cts, out_known) if not k]
    out = [None] * len(args)
    for i, c in zip(lin_idx, ad.backward_pass(lin, n_res, residuals, lin_cts)):
        out[i] = c
    return out


remat_p = common.define('checkpoint', _graph_abstract, None, _remat_jvp, _remat_transpose,
                        multiple_results=True)
remat_p.eager = _graph_eager
remat_p.batch = _batch_graph_prim(remat_p)
remat_p.needs_axis = True
remat_p.varying = custom_jvp_call_p.varying     # its graph's types (shard_map)
remat_p.quiet_params = ('policy',)
