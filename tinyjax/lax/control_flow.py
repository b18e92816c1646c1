"""tinyjax.lax's structured control flow: cond, switch, while_loop, fori_loop, scan, map.

The primitives and their rules live in tinyjax/ops/control_flow.py and tinyjax/ops/scan.py;
this module traces the user's functions into their graphs. tinyjax.lax re-exports it.
"""
import numpy as np

from tinyjax import dtypes, tree_util
from tinyjax.ops.elementwise import add, clamp, lt, ne
from tinyjax.ops.elementwise import convert as _convert
from tinyjax.ops.structural import concatenate, reshape, slice_in_dim
from tinyjax.ops.common import aval_of, scalar
from tinyjax.interpreters.carried_graphs import trace_closed, with_inputs, coerce, trace_internal
from tinyjax.core.ir import Var
from tinyjax.core.trace import eval_graph, as_array
from tinyjax.ops import control_flow as cf
from tinyjax.ops.control_flow import cond_p
from tinyjax.core.array import ArrayImpl
from tinyjax.ops.scan import scan_p
from tinyjax.interpreters.base_ops import move_batch_axis
from tinyjax.interpreters.batching import batch_eval


def _flat_avals(leaves):
    return [aval_of(x) for x in leaves]


def _trace_fun(fun, in_tree, avals, name):
    """Trace fun on abstract leaves of in_tree (positional args); returns (graph,
    hoisted consts, out tree)."""
    store = []

    def flat(*leaves):
        args = tree_util.tree_unflatten(in_tree, list(leaves))
        out_leaves, out_tree = tree_util.tree_flatten(fun(*args))
        store.append(out_tree)
        return out_leaves
    graph, consts = trace_closed(flat, avals, name)
    return graph, consts, store[0]


def _join_consts(traced):
    """Branches close over different values; each branch graph takes all of them (the
    ones it does not use as ignored inputs) so the branches share one signature."""
    everything, where = [], {}
    for _, consts in traced:
        for c in consts:
            if id(c) not in where:
                where[id(c)] = len(everything)
                everything.append(c)
    graphs = []
    for g, consts in traced:
        ins = [Var(c.aval) for c in everything]
        for k, c in enumerate(consts):
            ins[where[id(c)]] = g.invars[k]
        graphs.append(with_inputs(g, ins + g.invars[len(consts):]))
    return graphs, everything


def _coerce_outputs(graph, avals):
    if graph.out_avals == list(avals):
        return graph
    return trace_internal(lambda *xs: [coerce(o, a) for o, a in zip(eval_graph(graph, *xs), avals)],
                          graph.in_avals, 'branch')


def _branches(kind, funs, names, operands):
    """Trace every branch on the operands' types; check they agree (JAX's errors)."""
    leaves, in_tree = tree_util.tree_flatten(tuple(operands))
    avals = _flat_avals(leaves)
    traced, trees = [], []
    for f in funs:
        g, consts, out_tree = _trace_fun(f, in_tree, avals, getattr(f, '__name__', 'branch'))
        traced.append((g, consts))
        trees.append(out_tree)
    descs = '\n'.join(f'{n} is {cf.function_desc(f)}' for n, f in zip(names, funs))
    for n, t in zip(names[1:], trees[1:]):
        if t != trees[0]:
            raise TypeError(f'{kind} branch outputs must have the same pytree structure, but '
                            f'they differ:\n\n{descs}\n\n{names[0]} output is {trees[0]} but '
                            f'{n} output is {t}.\n\nRevise {names[0]} and/or {n} so that they '
                            'have the same pytree structure.')
    first = traced[0][0].out_avals
    for n, (g, _) in zip(names[1:], traced[1:]):
        for a, b in zip(first, g.out_avals):
            if not cf.same_type(a, b):
                raise TypeError(
                    f'{kind} branches must have equal output types but they differ.\n\n'
                    f'{descs}\n\nThe output of {names[0]} has type {cf.type_str(a)} but the '
                    f'corresponding output of {n} has type {cf.type_str(b)}, so '
                    f'{cf.mismatch_reason(a, b)}.'
                    f'{cf.vary_hint(a, b, f"the output of {names[0]}") or cf.vary_hint(b, a, f"the output of {n}")}'
                    f'\n\nRevise {names[0]} and/or {n} so that all output types match.')
    # Weak only where every branch is weak: weak and strong join to strong, as in JAX.
    joined = [a.update(weak_type=all(g.out_avals[i].weak_type for g, _ in traced))
              for i, a in enumerate(first)]
    graphs, consts = _join_consts(traced)
    graphs = tuple(_coerce_outputs(g, joined) for g in graphs)
    return graphs, consts, leaves, trees[0]


def _bind_cond(index, graphs, consts, leaves, out_tree):
    outs = cond_p.bind(index, *consts, *leaves, branches=graphs)
    return tree_util.tree_unflatten(out_tree, outs)


def cond(pred, true_fun, false_fun, *operands):
    """Run true_fun(*operands) if pred else false_fun(*operands); both are traced."""
    if pred is None:
        raise TypeError('cond predicate is None')
    if not (callable(true_fun) and callable(false_fun)):
        raise TypeError('lax.cond: true_fun and false_fun arguments should be callable.')
    a = aval_of(pred)
    if a.shape != ():
        raise TypeError(f'Pred must be a scalar, got {pred} of shape {a.shape}.')
    if a.dtype != dtypes.bool_:
        if not (dtypes.is_int(a.dtype) or dtypes.is_inexact(a.dtype)):
            raise TypeError(f'Pred type must be either boolean or number, got {a.dtype}.')
        pred = ne(pred, scalar(0, a.dtype, a.weak_type))
    index = _convert(pred, np.int32)
    graphs, consts, leaves, out_tree = _branches('cond', [true_fun, false_fun],
                                                 ['true_fun', 'false_fun'], operands)
    # Branch 0 is taken for a false predicate, as in JAX's cond (branches=(false, true)).
    return _bind_cond(index, graphs[::-1], consts, leaves, out_tree)


def switch(index, branches, *operands):
    """Run branches[clamp(index, 0, len - 1)](*operands)."""
    branches = list(branches)
    if not branches:
        raise ValueError('Empty branch sequence')
    if not all(callable(b) for b in branches):
        raise TypeError('lax.switch: branches argument should be a sequence of callables.')
    a = aval_of(index)
    if a.shape != ():
        raise TypeError(f'Branch index must be scalar, got {index} of shape {a.shape}.')
    if not dtypes.is_int(a.dtype):
        raise TypeError(f'Index type must be an integer, got {index} as {a.dtype}')
    if len(branches) == 1:
        return branches[0](*operands)
    index = clamp(scalar(0, np.int32), _convert(index, np.int32),
                  scalar(len(branches) - 1, np.int32))
    names = [f'branch {i}' for i in range(len(branches))]
    graphs, consts, leaves, out_tree = _branches('switch', branches, names, operands)
    return _bind_cond(index, graphs, consts, leaves, out_tree)


def _trace_carry_fun(what, fun, tree, avals, extra_tree=None, extra_avals=(), split_out=None):
    """Trace a loop body on carry avals, promoting a weak-typed carry to the type the body
    returns (JAX does; a Python 0 carry that becomes float32, say) and checking the carry
    keeps its structure and types. Returns (graph, consts, carry avals, out tree)."""
    n = len(avals)
    for _ in range(2):
        if extra_tree is None:
            in_tree = tree_util.tree_structure((tree_util.tree_unflatten(tree, [0] * n),))
        else:
            in_tree = tree_util.tree_structure((tree_util.tree_unflatten(tree, [0] * n),
                                                tree_util.tree_unflatten(extra_tree, [0] * len(extra_avals))))
        g, consts, out_tree = _trace_fun(fun, in_tree, list(avals) + list(extra_avals), what)
        carry_tree = split_out(out_tree) if split_out else out_tree
        out_avals = g.out_avals[:n]
        names = cf.carry_names(fun, tree, n)
        if carry_tree != tree:
            raise TypeError(
                f'{what} function carry input and carry output must have the same pytree '
                f'structure, but they differ:\n\nThe input carry {names[0] if n == 1 else ""} '
                f'is {tree} but the corresponding carry output is {carry_tree}.\n\nRevise the '
                'function so that the carry output has the same pytree structure as the carry '
                'input.')
        promoted = cf.promote_weak_carry(avals, out_avals)
        if promoted == list(avals):
            break
        avals = promoted
    cf.check_carry(what, names, avals, out_avals)
    return g, consts, list(avals), out_tree


def _carry_graph(graph, n_carry, carry_avals):
    """The body graph with its carry outputs of exactly the carry input types."""
    avals = list(carry_avals) + graph.out_avals[n_carry:]
    return _coerce_outputs(graph, avals)


def _cast_leaves(leaves, avals):
    return [coerce(as_array(x), a) for x, a in zip(leaves, avals)]


def while_loop(cond_fun, body_fun, init_val):
    """while cond_fun(val): val = body_fun(val); return val."""
    if not (callable(cond_fun) and callable(body_fun)):
        raise TypeError('lax.while_loop: body_fun and cond_fun arguments should be callable.')
    leaves, tree = tree_util.tree_flatten(init_val)
    avals = _flat_avals(leaves)
    body, body_consts, avals, _ = _trace_carry_fun('while_loop body', body_fun, tree, avals)
    body = _carry_graph(body, len(avals), avals)
    in_tree = tree_util.tree_structure((tree_util.tree_unflatten(tree, [0] * len(avals)),))
    cond_g, cond_consts, pred_tree = _trace_fun(cond_fun, in_tree, avals, 'cond_fun')
    if pred_tree.kind != 'leaf':
        raise TypeError(f'cond_fun must return a boolean scalar, but got pytree {pred_tree}.')
    if not cf.is_bool_scalar(cond_g.out_avals[0]):
        raise TypeError(f'cond_fun must return a boolean scalar, but got output type(s) '
                        f'[{cond_g.out_avals[0]}].')
    outs = cf.while_p.bind(*cond_consts, *body_consts, *_cast_leaves(leaves, avals),
                           cond_graph=cond_g, body_graph=body,
                           cond_nconsts=len(cond_consts), body_nconsts=len(body_consts))
    return tree_util.tree_unflatten(tree, outs)


def _static_int(x):
    """x as a Python int when it is concrete outside any trace (JAX's fori_loop then uses
    scan, so it can be reverse-differentiated), else None."""
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, ArrayImpl) and x.ndim == 0 and dtypes.is_int(x.dtype):
        return int(x)
    return None


def fori_loop(lower, upper, body_fun, init_val, *, unroll=None):
    """for i in range(lower, upper): val = body_fun(i, val); return val."""
    if not callable(body_fun):
        raise TypeError('lax.fori_loop: body_fun argument should be callable.')
    la, ua = aval_of(lower), aval_of(upper)
    dt, weak = dtypes.result_type_weak((la.dtype, la.weak_type), (ua.dtype, ua.weak_type))
    if not dtypes.is_int(dt):
        dt, weak = dtypes.default_int(), True
    lo, hi = _static_int(lower), _static_int(upper)
    if lo is not None and hi is not None:
        start = scalar(lo, dt, weak)

        def step(carry, _):
            i, x = carry
            return (add(i, scalar(1, dt, weak)), body_fun(i, x)), None
        (_, out), _ = scan(step, (start, init_val), None, length=hi - lo if hi > lo else 0,
                           unroll=1 if unroll is None else unroll)
        return out
    lower = _convert(lower, dt, weak) if not isinstance(lower, (int, float)) else scalar(lower, dt, weak)
    upper = _convert(upper, dt, weak) if not isinstance(upper, (int, float)) else scalar(upper, dt, weak)

    def body(carry):
        i, n, x = carry
        return add(i, scalar(1, dt, weak)), n, body_fun(i, x)
    return while_loop(lambda c: lt(c[0], c[1]), body, (lower, upper, init_val))[2]


def scan(f, init, xs=None, length=None, reverse=False, unroll=1, _split_transpose=False):
    """carry, y = f(carry, x) for each x along xs' leading axis; returns (carry, stacked ys)."""
    if not callable(f):
        raise TypeError('lax.scan: f argument should be callable.')
    x_leaves, x_tree = tree_util.tree_flatten(xs)
    x_avals = _flat_avals(x_leaves)
    for a in x_avals:
        if a.ndim == 0:
            raise IndexError('scan got a 0-d value to scan over; every leaf of xs needs a '
                             'leading axis (tuple index out of range)')
    sizes = sorted({a.shape[0] for a in x_avals})
    if len(sizes) > 1:
        raise ValueError('scan got values with different leading axis sizes: '
                         f'{", ".join(str(a.shape[0]) for a in x_avals)}.')
    if length is not None:
        length = int(length)
        if sizes and sizes != [length]:
            raise ValueError(f'scan got `length` argument of {length} which disagrees with '
                             f'leading axis sizes {sizes}.')
    elif sizes:
        length = sizes[0]
    else:
        raise ValueError('scan got no values to scan over and `length` not provided.')
    c_leaves, c_tree = tree_util.tree_flatten(init)
    c_avals = _flat_avals(c_leaves)
    slice_avals = [a.update(shape=a.shape[1:]) for a in x_avals]
    pair = {}

    def split_out(out_tree):
        if out_tree.kind not in ('tuple', 'list') or len(out_tree.children) != 2:
            raise TypeError(f'scan body output must be a pair, got {out_tree}.')
        pair['y'] = out_tree.children[1]
        return out_tree.children[0]
    body, consts, c_avals, _ = _trace_carry_fun('scan body', f, c_tree, c_avals, x_tree,
                                                slice_avals, split_out)
    body = _carry_graph(body, len(c_avals), c_avals)
    outs = scan_p.bind(*consts, *_cast_leaves(c_leaves, c_avals), *x_leaves, body=body,
                       length=length, reverse=bool(reverse), num_consts=len(consts),
                       num_carry=len(c_avals), unroll=unroll)
    n = len(c_avals)
    return (tree_util.tree_unflatten(c_tree, outs[:n]),
            tree_util.tree_unflatten(pair['y'], outs[n:]))


def _batched_call(f, x, size):
    """f on each of `size` examples stacked along the leading axis of x's leaves, as one
    call on the whole batch: f's graph evaluated with the batching rules (vmap's way)."""
    leaves, tree = tree_util.tree_flatten((x,))
    avals = [a.update(shape=a.shape[1:]) for a in _flat_avals(leaves)]
    graph, consts, out_tree = _trace_fun(f, tree, avals, getattr(f, '__name__', 'f'))
    outs, dims = batch_eval(graph, list(consts) + leaves,
                            [None] * len(consts) + [0] * len(leaves), size)
    return tree_util.tree_unflatten(
        out_tree, [move_batch_axis(o, d, 0, size) for o, d in zip(outs, dims)])


def map(f, xs, *, batch_size=None):
    """[f(x) for x in xs] along the leading axis, as a scan (batch_size: vmap in chunks)."""
    if batch_size is None:
        return scan(lambda _, x: ((), f(x)), (), xs)[1]
    leaves, tree = tree_util.tree_flatten(xs)
    n = _flat_avals(leaves)[0].shape[0]
    bs = int(batch_size)
    full, rest = divmod(n, bs)
    outs = []
    if full:
        chunks = [reshape(slice_in_dim(x, 0, full * bs), (full, bs) + x.shape[1:]) for x in leaves]
        ys = scan(lambda _, c: ((), _batched_call(f, tree_util.tree_unflatten(tree, c), bs)),
                  (), chunks)[1]
        outs.append(tree_util.tree_map(lambda y: reshape(y, (full * bs,) + y.shape[2:]), ys))
    if rest:
        tail = [slice_in_dim(x, full * bs, n) for x in leaves]
        outs.append(_batched_call(f, tree_util.tree_unflatten(tree, tail), rest))
    if len(outs) == 1:
        return outs[0]
    return tree_util.tree_map(lambda a, b: concatenate([a, b], 0), outs[0], outs[1])
