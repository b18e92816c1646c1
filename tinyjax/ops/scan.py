"""`scan`: a loop over the leading axis of its inputs, carrying a state (lax.scan, lax.map,
fori_loop with static bounds).

Inputs: consts (num_consts), the initial carry (num_carry), then xs, each stacked along a
leading axis of `length`. Param `body`: a graph (consts, carry, x slices) -> (carry, y
slices) whose carry output types equal its carry input types. Outputs: the final carry,
then the ys stacked along a new leading axis.

Reverse mode follows the standard construction: the JVP rule linearizes the body, so a
primal scan also returns the per-iteration residuals (stacked like ys) and a second scan
maps tangents linearly; transposing that linear scan is a scan in the other direction
whose body is the transposed body, accumulating the cotangents of the consts.
"""
from tinyjax.core import trace as core_trace
from tinyjax.core.ir import Graph
from tinyjax.interpreters import ad
from tinyjax.interpreters.ad import tangent_aval
from tinyjax.interpreters.carried_graphs import (
    batch_graph, coerce, graph_fixpoint, jvp_graph, linearize_graph, set_batch_rule,
    to_batched, trace_internal, transpose_graph, zeros_of)
from tinyjax.ops import common, elementwise, structural


def _split(seq, num_consts, num_carry):
    return (list(seq[:num_consts]), list(seq[num_consts:num_consts + num_carry]),
            list(seq[num_consts + num_carry:]))


def _abstract(*avals, body, length, reverse, num_consts, num_carry, unroll):
    outs = body.out_avals
    return list(outs[:num_carry]) + [a.update(shape=(length,) + a.shape) for a in outs[num_carry:]]


def _eager(*args, body, length, reverse, num_consts, num_carry, unroll):
    consts, carry, xs = _split(args, num_consts, num_carry)
    y_avals = body.out_avals[num_carry:]
    ys = [[] for _ in y_avals]
    for i in (reversed(range(length)) if reverse else range(length)):
        x = [structural.squeeze(structural.slice_in_dim(v, i, i + 1, 1, 0), (0,)) for v in xs]
        outs = core_trace.run_graph(body, *consts, *carry, *x)
        carry = outs[:num_carry]
        for acc, y in zip(ys, outs[num_carry:]):
            acc.append(y)
    stacked = []
    for acc, a in zip(ys, y_avals):
        if reverse:
            acc.reverse()
        if not acc:
            stacked.append(zeros_of(a.update(shape=(0,) + a.shape)))
        else:
            stacked.append(structural.concatenate(
                [structural.broadcast_in_dim(y, (1,) + a.shape, tuple(range(1, a.ndim + 1)))
                 for y in acc], 0))
    return list(carry) + stacked


def _jvp(primals, tangents, body, length, reverse, num_consts, num_carry, unroll):
    params = dict(length=length, reverse=reverse, unroll=unroll)
    consts, carry, xs = _split(primals, num_consts, num_carry)
    n_y = len(body.outvars) - num_carry

    def has_t(p, t):
        return t is not None and tangent_aval(common.aval_of(p)) is not None
    nz = [has_t(p, t) for p, t in zip(primals, tangents)]
    c_nz, carry_nz0, x_nz = _split(nz, num_consts, num_carry)
    carry_nz = graph_fixpoint(
        lambda cnz: jvp_graph(body, c_nz + cnz + x_nz, cnz + [False] * n_y)[1][:num_carry],
        carry_nz0)
    nonzero = c_nz + carry_nz + x_nz
    if not any(nonzero):
        outs = scan_p.bind(*primals, body=body, num_consts=num_consts, num_carry=num_carry,
                           **params)
        return outs, [None] * len(outs)
    known, lin, out_nz, res_avals, res_input = linearize_graph(
        body, nonzero, carry_nz + [False] * n_y)
    assert out_nz[:num_carry] == carry_nz
    # Residuals that are the body's consts pass straight to the linear scan; the rest
    # vary per iteration and are stacked like ys.
    hoisted = [i is not None and i < num_consts for i in res_input]
    n_out = len(body.outvars)

    def primal_fn(*args):
        vals = core_trace.eval_graph(known, *args)
        return vals[:n_out] + [r for r, h in zip(vals[n_out:], hoisted) if not h]
    primal_body = trace_internal(primal_fn, body.in_avals, 'primal')
    vals = scan_p.bind(*primals, body=primal_body, num_consts=num_consts, num_carry=num_carry,
                       **params)
    outs, stacked = vals[:n_out], vals[n_out:]

    # The linear scan: consts (hoisted residuals, const tangents), carry tangents, then
    # xs (stacked residuals, x tangents).
    t_avals = [tangent_aval(a) for a, z in zip(body.in_avals, nonzero) if z]
    tc_avals, tcar_avals, tx_avals = _split(t_avals, sum(c_nz), sum(carry_nz))
    h_avals = [a for a, h in zip(res_avals, hoisted) if h]
    s_avals = [a for a, h in zip(res_avals, hoisted) if not h]
    nh, ns = len(h_avals), len(s_avals)

    ntc, ntcar = len(tc_avals), len(tcar_avals)

    def lin_fn(*args):
        h, ts_c, s = args[:nh], args[nh:nh + ntc + ntcar], args[nh + ntc + ntcar:][:ns]
        tx = args[nh + ntc + ntcar + ns:]
        hi, si = iter(h), iter(s)
        res = [next(hi) if hh else next(si) for hh in hoisted]
        return core_trace.eval_graph(lin, *res, *ts_c, *tx)
    lin_body = trace_internal(lin_fn, h_avals + tc_avals + tcar_avals + s_avals + tx_avals,
                              'linear')
    ts = [coerce(t, tangent_aval(common.aval_of(p))) if t is not None
          else zeros_of(tangent_aval(common.aval_of(p)))
          for p, t, z in zip(primals, tangents, nonzero) if z]
    tc, tcar, tx = _split(ts, sum(c_nz), sum(carry_nz))
    h_vals = [consts[i] for i, h in zip(res_input, hoisted) if h]
    touts = iter(scan_p.bind(*h_vals, *tc, *tcar, *stacked, *tx, body=lin_body,
                             num_consts=nh + len(tc), num_carry=len(tcar), **params))
    return outs, [next(touts) if z else None for z in out_nz]


def _transpose(cts, *args, body, length, reverse, num_consts, num_carry, unroll):
    consts, carry, xs = _split(args, num_consts, num_carry)
    undefined = [ad.is_undefined(a) for a in args]
    c_u, car_u, x_u = _split(undefined, num_consts, num_carry)
    # A known carry here is an instantiated zero tangent (a JVP fills in zeros for carry
    # parts whose tangent only becomes nonzero in later iterations); the body is linear
    # in the carry, so it is transposed as linear and its cotangent dropped.
    known_carry = [not u for u in car_u]
    out_avals = body.out_avals
    ct_avals = [tangent_aval(a) or a for a in out_avals]
    ct_carry = [coerce(c, a) if c is not None else zeros_of(a)
                for c, a in zip(cts[:num_carry], ct_avals)]
    ct_ys = [coerce(c, a.update(shape=(length,) + a.shape)) if c is not None
             else zeros_of(a.update(shape=(length,) + a.shape))
             for c, a in zip(cts[num_carry:], ct_avals[num_carry:])]
    # The body transposed once: (known consts, known xs, carry cts, y cts) -> cotangents of
    # (linear consts, carry, linear xs).
    in_avals = body.in_avals
    lin_c_avals = [a.strip_weak() for a, u in zip(in_avals[:num_consts], c_u) if u]
    carry_avals = [a.strip_weak() for a in in_avals[num_consts:num_consts + num_carry]]
    lin_x_avals = [a.strip_weak() for a, u in zip(in_avals[num_consts + num_carry:], x_u) if u]
    order = ([i for i, u in enumerate(c_u) if not u] +
             [num_consts + num_carry + i for i, u in enumerate(x_u) if not u] +
             [i for i, u in enumerate(c_u) if u] +
             list(range(num_consts, num_consts + num_carry)) +
             [num_consts + num_carry + i for i, u in enumerate(x_u) if u])
    reordered = Graph([body.invars[i] for i in order], body.eqns, body.outvars,
                      body.constvars, body.consts)
    n_known = sum(not u for u in c_u) + sum(not u for u in x_u)
    tbody = transpose_graph(reordered, [False] * n_known + [True] * (len(order) - n_known),
                            ct_avals, lin_c_avals + carry_avals + lin_x_avals)
    nkc = sum(not u for u in c_u)
    nkx = n_known - nkc
    nlc = len(lin_c_avals)

    # The reverse scan: consts = known consts; carry = (const cotangent sums, carry
    # cotangent); xs = (known xs, y cotangents); ys = x cotangents.
    def fn(*a):
        kc, acc, ctc = a[:nkc], a[nkc:nkc + nlc], a[nkc + nlc:nkc + nlc + num_carry]
        rest = a[nkc + nlc + num_carry:]
        kx, cty = rest[:nkx], rest[nkx:]
        got = core_trace.eval_graph(tbody, *kc, *kx, *ctc, *cty)
        gc, gcar, gx = got[:nlc], got[nlc:nlc + num_carry], got[nlc + num_carry:]
        return [elementwise.add(s, g) for s, g in zip(acc, gc)] + list(gcar) + list(gx)
    known_c = [a for a, u in zip(consts, c_u) if not u]
    known_x = [a for a, u in zip(xs, x_u) if not u]
    slice_avals = [common.aval_of(x).update(shape=common.aval_of(x).shape[1:]) for x in known_x]
    y_ct_avals = ct_avals[num_carry:]
    t_avals = ([common.aval_of(c) for c in known_c] + lin_c_avals + carry_avals +
               slice_avals + list(y_ct_avals))
    rev_body = trace_internal(fn, t_avals, 'transpose')
    acc0 = [zeros_of(a) for a in lin_c_avals]
    outs = scan_p.bind(*known_c, *acc0, *ct_carry, *known_x, *ct_ys, body=rev_body,
                       length=length, reverse=not reverse, num_consts=nkc,
                       num_carry=nlc + num_carry, unroll=unroll)
    acc, ctc, ctx = outs[:nlc], outs[nlc:nlc + num_carry], outs[nlc + num_carry:]
    acc_it, ctx_it = iter(acc), iter(ctx)
    return ([next(acc_it) if u else None for u in c_u] +
            [None if k else c for c, k in zip(ctc, known_carry)] +
            [next(ctx_it) if u else None for u in x_u])


def _batch(args, dims, size, body, length, reverse, num_consts, num_carry, unroll):
    consts, carry, xs = _split(args, num_consts, num_carry)
    cd, card, xd = _split(dims, num_consts, num_carry)
    c_b, x_b = [d is not None for d in cd], [d is not None for d in xd]
    n_y = len(body.outvars) - num_carry
    carry_b = graph_fixpoint(
        lambda b: batch_graph(body, c_b + b + x_b, size)[1][:num_carry],
        [d is not None for d in card])
    new_body, out_b = batch_graph(body, c_b + carry_b + x_b, size, carry_b + [False] * n_y)
    consts = [to_batched(x, d, b, size) for x, d, b in zip(consts, cd, c_b)]
    carry = [to_batched(x, d, b, size) for x, d, b in zip(carry, card, carry_b)]
    # The scanned axis stays first; each slice's batch axis is then axis 0.
    xs = [to_batched(x, d, b, size, axis=1) for x, d, b in zip(xs, xd, x_b)]
    outs = scan_p.bind(*consts, *carry, *xs, body=new_body, length=length, reverse=reverse,
                       num_consts=num_consts, num_carry=num_carry, unroll=unroll)
    out_dims = [0 if b else None for b in out_b[:num_carry]] + \
        [1 if b else None for b in out_b[num_carry:]]
    return outs, out_dims


scan_p = common.define('scan', _abstract, None, _jvp, _transpose, multiple_results=True)
scan_p.eager = _eager


# Inside a shard_map body: the types the body was traced to (the carry held to its
# input type by check_carry), as in JAX.
scan_p.varying = lambda ins, body, **_: [a.vma for a in body.out_avals]
set_batch_rule(scan_p, _batch, lambda p: [p['body']])
