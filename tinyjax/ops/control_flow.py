"""Structured control flow: `cond` (cond/switch) and `while` (while_loop, dynamic fori_loop).

Each primitive carries traced graphs (its branches, or its loop's cond and body). Values
the user's functions close over that belong to an enclosing trace are explicit inputs of
those graphs (`trace_closed`), so every transform sees them as ordinary operands.

The rules work on the graphs with the interpreters' machinery (`interpreters/ad.py`,
`batching.py`, and `carried_graphs.py` for whole graphs). Under jit these primitives are
opaque steps: their `eager` rule runs the graphs on arrays.
"""
import inspect

import numpy as np

from tinyjax import dtypes
from tinyjax.core import trace as core_trace
from tinyjax.core.ir import ShapedArray, Var
from tinyjax.interpreters import ad
from tinyjax.interpreters.ad import tangent_aval
from tinyjax.interpreters.batching import batch_eval
from tinyjax.interpreters.carried_graphs import (
    active_axis_name, batch_graph, coerce, graph_fixpoint, jvp_graph, linearize_graph,
    set_batch_rule, to_batched, trace_internal, transpose_graph, with_inputs, zeros_of)
from tinyjax.ops import common, elementwise, reduction, structural


# --- helpers for messages about carried graphs -----------------------------------------
def type_str(aval):
    return str(aval.update(weak_type=False))


def mismatch_reason(a, b):
    if a.shape != b.shape:
        return 'the shapes do not match'
    if a.dtype != b.dtype:
        return 'the dtypes do not match'
    return 'the manual axis types do not match'


def same_type(a, b):
    """Equal up to weak type (JAX joins weak and strong, and errors on anything else);
    inside a shard_map body the varying mesh axes count too."""
    return a.shape == b.shape and a.dtype == b.dtype and a.vma == b.vma


def vary_hint(a, b, what):
    """JAX's advice when only the varying axes differ: vary the other value too."""
    if a.vma == b.vma or not a.vma <= b.vma:
        return ''
    axes = tuple(sorted(b.vma - a.vma, key=str))
    return (f"\n\nThis might be fixed by applying `jax.lax.pcast(..., {axes}, "
            f"to='varying')` to {what}.")


def function_desc(f):
    code = getattr(f, '__code__', None)
    name = getattr(f, '__name__', type(f).__name__)
    if code is None:
        return name
    return f'{name} at {code.co_filename}:{code.co_firstlineno}'


# --- cond: one primitive for cond and switch ------------------------------------------
# Inputs: an int32 index (already clamped to a branch), then the operands every branch
# takes. Param `branches`: a tuple of graphs with identical input and output types.
def _cond_abstract(index, *ops, branches):
    if index.shape != () or index.dtype != np.int32:
        raise TypeError(f'cond index must be an int32 scalar, got {index.str_short()}')
    return list(branches[0].out_avals)


def _cond_eager(index, *ops, branches):
    i = min(max(int(np.asarray(index)), 0), len(branches) - 1)
    return core_trace.run_graph(branches[i], *ops)


def _unify_residuals(res_avals_per_branch):
    """Slots holding every branch's residuals: a slot is shared by branches whose
    residuals have the same type, and a branch fills the slots it does not use with
    zeros, so all branches return the same types."""
    slots, assign = [], []
    for avals in res_avals_per_branch:
        used, idx = set(), []
        for a in avals:
            j = next((k for k, s in enumerate(slots) if s == a and k not in used), None)
            if j is None:
                slots.append(a)
                j = len(slots) - 1
            used.add(j)
            idx.append(j)
        assign.append(idx)
    return slots, assign


def _cond_jvp(primals, tangents, branches):
    index, ops = primals[0], primals[1:]
    nonzero = [t is not None and tangent_aval(common.aval_of(p)) is not None
               for p, t in zip(ops, tangents[1:])]
    if not any(nonzero):
        return cond_p.bind(*primals, branches=branches), [None] * len(branches[0].outvars)
    out_avals = branches[0].out_avals
    inst = [True] * len(out_avals)
    parts = [linearize_graph(b, nonzero, inst) for b in branches]
    out_nz = parts[0][2]
    slots, assign = _unify_residuals([p[3] for p in parts])
    n_out = len(out_avals)

    def known_branch(part, idx):
        def fn(*xs):
            vals = core_trace.eval_graph(part[0], *xs)
            res = [zeros_of(a) for a in slots]
            for j, r in zip(idx, vals[n_out:]):
                res[j] = r
            return vals[:n_out] + res
        return trace_internal(fn, branches[0].in_avals, 'primal')

    t_avals = [tangent_aval(common.aval_of(p)) for p, z in zip(ops, nonzero) if z]

    def lin_branch(part, idx):
        def fn(*xs):
            res, ts = xs[:len(slots)], xs[len(slots):]
            return core_trace.eval_graph(part[1], *[res[j] for j in idx], *ts)
        return trace_internal(fn, slots + t_avals, 'linear')

    known = tuple(known_branch(p, i) for p, i in zip(parts, assign))
    lin = tuple(lin_branch(p, i) for p, i in zip(parts, assign))
    vals = cond_p.bind(index, *ops, branches=known)
    outs, res = vals[:n_out], vals[n_out:]
    ts = [coerce(t, tangent_aval(common.aval_of(p)))
          for p, t, z in zip(ops, tangents[1:], nonzero) if z]
    touts = iter(cond_p.bind(index, *res, *ts, branches=lin))
    return outs, [next(touts) if nz else None for nz in out_nz]


def _cond_transpose(cts, index, *args, branches):
    if ad.is_undefined(index):
        raise TypeError('cond: the branch index cannot be a linear input')
    undefined = [ad.is_undefined(a) for a in args]
    ct_avals = [tangent_aval(a) or a for a in branches[0].out_avals]
    cts = [coerce(c, a) if c is not None else zeros_of(a) for c, a in zip(cts, ct_avals)]
    out_avals = [a.aval.strip_weak() for a in args if ad.is_undefined(a)]
    new = tuple(transpose_graph(b, undefined, ct_avals, out_avals) for b in branches)
    known = [a for a in args if not ad.is_undefined(a)]
    got = iter(cond_p.bind(index, *known, *cts, branches=new))
    return [None] + [next(got) if u else None for u in undefined]


def _cond_batch(args, dims, size, branches):
    index, ops = args[0], args[1:]
    op_b = [d is not None for d in dims[1:]]
    ops = [to_batched(x, d, b, size) for x, d, b in zip(ops, dims[1:], op_b)]
    if dims[0] is not None:
        # Lanes take different branches: compute every branch, then pick per lane.
        n = len(branches)
        index = common.move_batch_axis(index, dims[0], 0)
        index = elementwise.clamp(common.scalar(0, np.int32), index, common.scalar(n - 1, np.int32))
        per_branch = []
        for b in branches:
            outs, od = batch_eval(b, ops, [0 if x else None for x in op_b], size, active_axis_name())
            per_branch.append([common.move_batch_axis(o, d, 0, size) for o, d in zip(outs, od)])
        result = []
        for k, a in enumerate(branches[0].out_avals):
            shape = (size,) + a.shape
            which = structural.broadcast_in_dim(index, shape, (0,)) if a.shape else index
            result.append(elementwise.select_n(which, *[coerce(p[k], a.update(shape=shape))
                                                 for p in per_branch]))
        return result, [0] * len(result)
    out_b = [False] * len(branches[0].outvars)
    for b in branches:
        out_b = [x or y for x, y in zip(out_b, batch_graph(b, op_b, size)[1])]
    new = tuple(batch_graph(b, op_b, size, out_b)[0] for b in branches)
    outs = cond_p.bind(index, *ops, branches=new)
    return outs, [0 if b else None for b in out_b]


cond_p = common.define('cond', _cond_abstract, None, _cond_jvp, _cond_transpose,
                       multiple_results=True)
cond_p.eager = _cond_eager
# Inside a shard_map body the outputs have the types the branches were traced to (which
# must agree, JAX's error otherwise), whatever the index: as in JAX.
cond_p.varying = lambda ins, branches: [a.vma for a in branches[0].out_avals]
set_batch_rule(cond_p, _cond_batch, lambda p: p['branches'])


# --- while: loop while cond_graph(carry) holds -----------------------------------------
# Inputs: cond consts, body consts, carry. cond_graph: (cond consts, carry) -> bool[];
# body_graph: (body consts, carry) -> carry, with the carry's exact types.
_WHILE_REVERSE_ERROR = (
    'Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop with '
    'dynamic start/stop values. Try using lax.scan, or using fori_loop with static '
    'start/stop.')


def _while_split(args, cond_nconsts, body_nconsts):
    return (list(args[:cond_nconsts]), list(args[cond_nconsts:cond_nconsts + body_nconsts]),
            list(args[cond_nconsts + body_nconsts:]))


def _while_abstract(*avals, cond_graph, body_graph, cond_nconsts, body_nconsts):
    return list(body_graph.out_avals)


def _while_eager(*args, cond_graph, body_graph, cond_nconsts, body_nconsts):
    cc, bc, carry = _while_split(args, cond_nconsts, body_nconsts)
    while bool(np.asarray(core_trace.run_graph(cond_graph, *cc, *carry)[0])):
        carry = core_trace.run_graph(body_graph, *bc, *carry)
    return carry


def _while_jvp(primals, tangents, cond_graph, body_graph, cond_nconsts, body_nconsts):
    params = dict(cond_graph=cond_graph, body_graph=body_graph, cond_nconsts=cond_nconsts,
                  body_nconsts=body_nconsts)
    cc, bc, carry = _while_split(primals, cond_nconsts, body_nconsts)
    _, bc_t, carry_t = _while_split(tangents, cond_nconsts, body_nconsts)

    def has_t(p, t):
        return t is not None and tangent_aval(common.aval_of(p)) is not None
    bc_nz = [has_t(p, t) for p, t in zip(bc, bc_t)]
    carry_nz = graph_fixpoint(
        lambda nz: jvp_graph(body_graph, bc_nz + nz, nz)[1],
        [has_t(p, t) for p, t in zip(carry, carry_t)])
    # The primal loop runs on its own, so reverse mode finds the outputs known and fails
    # only when transposing the tangent loop below (with JAX's error); forward mode
    # computes the primal twice.
    outs = while_p.bind(*primals, **params)
    if not any(bc_nz) and not any(carry_nz):
        return outs, [None] * len(carry)
    jg, _ = jvp_graph(body_graph, bc_nz + carry_nz, carry_nz)
    nb, nc = len(bc), len(carry)
    n_bt = sum(bc_nz)
    iv = jg.invars
    # jvp_graph orders inputs (bc, carry, bc_t, carry_t); the loop wants consts first.
    body = with_inputs(jg, iv[:nb] + iv[nb + nc:nb + nc + n_bt] + iv[nb:nb + nc] +
                       iv[nb + nc + n_bt:])
    ct_avals = [tangent_aval(a) for a, z in zip(body_graph.out_avals, carry_nz) if z]
    cond = with_inputs(cond_graph, cond_graph.invars + [Var(a) for a in ct_avals])
    ts_b = [coerce(t, tangent_aval(common.aval_of(p))) for p, t, z in zip(bc, bc_t, bc_nz) if z]
    ts_c = [coerce(t, a) if t is not None else zeros_of(a)
            for t, a in zip([t for t, z in zip(carry_t, carry_nz) if z], ct_avals)]
    vals = while_p.bind(*cc, *bc, *ts_b, *carry, *ts_c, cond_graph=cond, body_graph=body,
                        cond_nconsts=cond_nconsts, body_nconsts=nb + n_bt)
    touts = iter(vals[nc:])
    return outs, [next(touts) if z else None for z in carry_nz]


def _while_transpose(cts, *args, **params):
    raise ValueError(_WHILE_REVERSE_ERROR)


def _while_batch(args, dims, size, cond_graph, body_graph, cond_nconsts, body_nconsts):
    cc, bc, carry = _while_split(args, cond_nconsts, body_nconsts)
    ccd, bcd, card = _while_split(dims, cond_nconsts, body_nconsts)
    cc_b, bc_b = [d is not None for d in ccd], [d is not None for d in bcd]
    carry_b = graph_fixpoint(lambda b: batch_graph(body_graph, bc_b + b, size)[1],
                             [d is not None for d in card])
    pred_b = batch_graph(cond_graph, cc_b + carry_b, size)[1][0]
    if pred_b:
        carry_b = [True] * len(carry)     # lanes stop at different times: all carry per lane
    body, _ = batch_graph(body_graph, bc_b + carry_b, size, carry_b)
    cond, _ = batch_graph(cond_graph, cc_b + carry_b, size)
    cc = [to_batched(x, d, b, size) for x, d, b in zip(cc, ccd, cc_b)]
    bc = [to_batched(x, d, b, size) for x, d, b in zip(bc, bcd, bc_b)]
    carry = [to_batched(x, d, b, size) for x, d, b in zip(carry, card, carry_b)]
    if not pred_b:
        outs = while_p.bind(*cc, *bc, *carry, cond_graph=cond, body_graph=body,
                            cond_nconsts=cond_nconsts, body_nconsts=body_nconsts)
        return outs, [0 if b else None for b in carry_b]
    # Run until every lane is done; a finished lane keeps its carry.
    ncc = len(cc)

    def body_fn(*xs):
        c_consts, b_consts, cur = xs[:ncc], xs[ncc:ncc + len(bc)], xs[ncc + len(bc):]
        live = core_trace.eval_graph(cond, *c_consts, *cur)[0]
        new = core_trace.eval_graph(body, *b_consts, *cur)
        out = []
        for old, nw in zip(cur, new):
            shape = common.aval_of(old).shape
            which = structural.broadcast_in_dim(live, shape, (0,)) if len(shape) > 1 else live
            out.append(elementwise.select_n(which, old, nw))
        return out

    def cond_fn(*xs):
        return [reduction.reduce_or(core_trace.eval_graph(cond, *xs)[0], (0,))]
    avals = [common.aval_of(x) for x in cc + bc + carry]
    new_body = trace_internal(body_fn, avals, 'body')
    new_cond = trace_internal(cond_fn, avals[:ncc] + avals[ncc + len(bc):], 'cond')
    outs = while_p.bind(*cc, *cc, *bc, *carry, cond_graph=new_cond, body_graph=new_body,
                        cond_nconsts=ncc, body_nconsts=ncc + len(bc))
    return outs, [0] * len(outs)


while_p = common.define('while', _while_abstract, None, _while_jvp, _while_transpose,
                        multiple_results=True)
while_p.eager = _while_eager


# The carry keeps the type it was traced with (check_carry holds the body to it), as in
# JAX, even where the trip count differs between devices.
while_p.varying = lambda ins, body_graph, **_: [a.vma for a in body_graph.out_avals]
set_batch_rule(while_p, _while_batch, lambda p: [p['cond_graph'], p['body_graph']])


# --- carry types: shared by while_loop and scan ---------------------------------------
def promote_weak_carry(in_avals, out_avals):
    """JAX promotes a weakly typed initial carry to the type the body returns (a Python
    `0` carry that the body turns into float32, say). Returns the new input avals."""
    new = []
    for a, b in zip(in_avals, out_avals):
        if a.weak_type and (a.dtype != b.dtype or a.weak_type != b.weak_type) and \
                a.shape == b.shape:
            new.append(ShapedArray(a.shape, b.dtype, b.weak_type))
        else:
            new.append(a)
    return new


def check_carry(what, names, in_avals, out_avals):
    for n, a, b in zip(names, in_avals, out_avals):
        if not same_type(a, b):
            raise TypeError(
                f'{what} function carry input and carry output must have equal types, but '
                f'they differ:\n\nThe input carry {n} has type {type_str(a)} but the '
                f'corresponding output carry component has type {type_str(b)}, so '
                f'{mismatch_reason(a, b)}.'
                f'{vary_hint(a, b, f"the initial carry value corresponding to the input carry {n}")}'
                '\n\nRevise the function so that all output types match the corresponding '
                'input types.')


def carry_names(fun, tree, leaves_count):
    """How JAX names carry parts in errors: the body's parameter name, then the path."""
    try:
        name = next(iter(inspect.signature(fun).parameters))
    except (TypeError, ValueError, StopIteration):
        name = 'carry'
    if tree.kind == 'leaf':
        return [name]
    return [f'{name}[{i}]' for i in range(leaves_count)]


def is_bool_scalar(aval):
    return aval.shape == () and aval.dtype == dtypes.bool_
