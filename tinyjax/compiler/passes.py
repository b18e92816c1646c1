"""Graph passes run by jit before fusion: algebraic simplification, constant folding,
common-subexpression elimination and dead-code elimination.

Each pass returns a new Graph and leaves its input alone (a traced graph is cached by
jit and also evaluated as-is under grad/vmap). A substitution `out -> atom` only happens
when the two have the same shape and dtype; weak typing may differ only for values that
are not graph outputs, since weakness never changes what a kernel computes.
"""
import numpy as np

from tinyjax.core.array import from_numpy
from tinyjax.core.ir import Eqn, Graph, Literal, Var, dce



def optimize(graph):
    graph = simplify(graph)
    graph = fold_constants(graph)
    graph = cse(graph)
    graph = simplify(graph)
    return dce(graph)


def _rebuild(graph, eqns, subst):
    def sub(a):
        while isinstance(a, Var) and a in subst:
            a = subst[a]
        return a
    new_eqns = [Eqn(e.prim, [sub(a) for a in e.inputs], e.params, e.outputs) for e in eqns]
    return Graph(graph.invars, new_eqns, [sub(a) for a in graph.outvars],
                 graph.constvars, graph.consts)


def _literal_key(lit):
    v = np.asarray(lit.val)
    return ('lit', v.dtype.str, v.tobytes(), lit.aval.weak_type)


def _param_key(params):
    try:
        items = tuple(sorted((k, _hashable(v)) for k, v in params.items()))
        hash(items)
        return items
    except TypeError:
        return None


def _hashable(v):
    if isinstance(v, (list, tuple)):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, np.dtype):
        return ('dtype', v.str)
    if isinstance(v, Graph):
        raise TypeError('graph-valued parameter')
    return v


def cse(graph):
    """Reuse the result of an equation already computed with the same inputs and params."""
    seen, subst, eqns = {}, {}, []
    for e in graph.eqns:
        ins = [subst.get(a, a) if isinstance(a, Var) else a for a in e.inputs]
        pk = _param_key(e.params)
        key = None
        if pk is not None and not e.prim.effectful:
            key = (e.prim, tuple(a if isinstance(a, Var) else _literal_key(a) for a in ins), pk)
        if key is not None and key in seen:
            prev = seen[key]
            for o, p in zip(e.outputs, prev.outputs):
                if o.aval == p.aval or o not in graph.outvars:
                    subst[o] = p
            if all(o in subst for o in e.outputs):
                continue
        ne = Eqn(e.prim, ins, e.params, e.outputs)
        if key is not None:
            seen[key] = ne
        eqns.append(ne)
    return _rebuild(graph, eqns, subst)


def fold_constants(graph):
    """Evaluate equations whose inputs are all literals and whose result is a scalar."""
    subst, eqns = {}, []
    for e in graph.eqns:
        ins = [subst.get(a, a) if isinstance(a, Var) else a for a in e.inputs]
        if (not e.prim.multiple_results and e.prim.impl is not None and e.prim.eager is None
                and all(isinstance(a, Literal) for a in ins)
                and e.outputs[0].aval.shape == ()
                and not np.issubdtype(e.outputs[0].aval.dtype, np.complexfloating)):
            try:
                with np.errstate(all='ignore'):
                    val = e.prim.impl(np, *[np.asarray(a.val) for a in ins], **e.params)
                aval = e.outputs[0].aval
                val = np.asarray(val).astype(aval.dtype).reshape(())
                subst[e.outputs[0]] = Literal(from_numpy(val, aval.weak_type), aval)
                continue
            except Exception:
                pass   # leave it to run at run time, where errors surface normally
        eqns.append(Eqn(e.prim, ins, e.params, e.outputs))
    # A literal graph output stays a literal; the Program materialises it.
    return _rebuild(graph, eqns, subst)


def is_scalar_literal(a, value):
    """Whether atom `a` is a non-boolean 0-d literal equal to `value`."""
    if not isinstance(a, Literal):
        return False
    v = np.asarray(a.val)
    return v.shape == () and v.dtype != np.bool_ and bool(v == value)


def same_type(a, b):
    return a.shape == b.shape and a.dtype == b.dtype


def producer(atom, defs):
    """The equation of the simplified graph that defines `atom` (a Var), else None."""
    return defs.get(atom) if isinstance(atom, Var) else None


def simplify(graph):
    """Local rewrites each primitive declares in its `simplify` rule: x*1, x+0, x-0, x/1,
    neg(neg x), stop_gradient(x), converts to the same type, chains of transposes,
    reshapes and broadcasts, and reshapes that only add unit axes before a broadcast
    (keepdims reductions), which fusion can then read as row values.

    rule(out, ins, params, defs) -> an atom replacing `out`, an Eqn replacing the
    equation, or None; `defs` maps each var of the simplified graph to its equation."""
    outvars = set(v for v in graph.outvars if isinstance(v, Var))
    defs, subst, eqns = {}, {}, []

    def can_replace(out, atom):
        return same_type(out.aval, atom.aval) and (out.aval.weak_type == atom.aval.weak_type
                                                   or out not in outvars)

    for e in graph.eqns:
        ins = [subst.get(a, a) if isinstance(a, Var) else a for a in e.inputs]
        out = e.outputs[0] if len(e.outputs) == 1 else None
        rule = e.prim.simplify
        new = rule(out, ins, e.params, defs) if rule is not None and out is not None and ins \
            else None
        if isinstance(new, Eqn):
            eqns.append(new)
            defs[new.outputs[0]] = new
            continue
        if new is not None and can_replace(out, new):
            subst[out] = new
            continue
        ne = Eqn(e.prim, ins, e.params, e.outputs)
        eqns.append(ne)
        for o in e.outputs:
            defs[o] = ne
    return dce(_rebuild(graph, eqns, subst))


def unit_axes_map(src_shape, mid_shape):
    """If mid_shape is src_shape with unit axes added/removed, the mid axis of each src axis
    (None when some non-unit axis would be lost or reordered). Unit src axes map to a unit
    mid axis if one lines up, else the src axis is dropped from the mapping (returns None)."""
    src_big = [i for i, s in enumerate(src_shape) if s != 1]
    mid_big = [i for i, s in enumerate(mid_shape) if s != 1]
    if [src_shape[i] for i in src_big] != [mid_shape[i] for i in mid_big]:
        return None
    if len(src_big) != len(src_shape):
        return None   # unit axes in the source: keep it simple
    return tuple(mid_big)
