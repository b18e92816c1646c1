"""stop_gradient, and the primitives behind custom_jvp / custom_vjp (checkpoint is in
remat.py)."""
from tinyjax import dtypes, tree_util
from tinyjax.core.ir import Graph
from tinyjax.core.trace import eval_graph, make_graph
from tinyjax.interpreters.ad import jvp_eval
from tinyjax.interpreters.batching import batch_eval
from tinyjax.ops import common

stop_gradient_p = common.define(
    'stop_gradient', lambda x: x, lambda xp, x: x,
    jvp=lambda primals, tangents: (stop_gradient_p.bind(primals[0]), None),
    batch=lambda args, dims: (stop_gradient_p.bind(args[0]), dims[0]))
stop_gradient_p.identity = True     # the compiler drops it: differentiation is over


# Differentiation is over once a graph compiles: the compiler drops it.
stop_gradient_p.simplify = lambda out, ins, params, defs: ins[0]


def stop_gradient(x):
    if not dtypes.is_inexact(common.aval_of(x).dtype):
        return x
    return stop_gradient_p.bind(x)


# --- primitives that carry a traced graph --------------------------------------------
def _graph_abstract(*avals, graph, **params):
    return graph.out_avals


def _graph_eager(*args, graph, **params):
    return eval_graph(graph, *args)


def _uses_axis(graph, name):
    """Whether a collective of graph (or of a graph it holds) works over the axis `name`."""
    if name is None:
        return False
    for e in graph.eqns:
        for k, v in e.params.items():
            if k == 'axis_name' and getattr(e.prim, 'spmd', None) is not None and \
                    name in (v if isinstance(v, tuple) else (v,)):
                return True
            if isinstance(v, Graph) and _uses_axis(v, name):
                return True
    return False


def _batch_graph_prim(p):
    """Batch a graph-holding primitive by batching its graph (outputs mapped at axis 0)."""
    def rule(args, dims, graph, frame_name=None, size=None, **params):
        if all(d is None for d in dims):
            if not _uses_axis(graph, frame_name):    # nothing batched, nothing to reduce
                return p.bind(*args, graph=graph, **params), [None] * len(graph.outvars)
        else:
            size = common.batch_size(args, dims)
        moved = [common.move_batch_axis(x, d, 0) if d is not None else x for x, d in zip(args, dims)]
        dims0 = [0 if d is not None else None for d in dims]

        def f(*xs):     # under the vmap's name: collectives inside reduce over its axis
            outs, od = batch_eval(graph, xs, dims0, size, axis_name=frame_name)
            return [common.move_batch_axis(o, d, 0, size) for o, d in zip(outs, od)]
        avals = [common.aval_of(x) for x in moved]
        g, _ = make_graph(f, avals, name=p.name)
        params = p.batch_params(params, dims0, size) if hasattr(p, 'batch_params') else params
        return p.bind(*moved, graph=g, **params), [0] * len(g.outvars)
    return rule


# custom_jvp: the user's rule replaces differentiation of the function's graph.
def _cjvp_jvp(primals, tangents, graph, jvp_fn, n_nondiff, in_tree, out_tree, name):
    nd, dyn = primals[:n_nondiff], primals[n_nondiff:]
    ts = [t if t is not None else _zero_tangent_for(p) for p, t in zip(dyn, tangents[n_nondiff:])]
    p_tree = tree_util.tree_unflatten(in_tree, list(dyn))
    t_tree = tree_util.tree_unflatten(in_tree, ts)
    res = jvp_fn(*nd, tuple(p_tree), tuple(t_tree))
    if not (isinstance(res, (tuple, list)) and len(res) == 2):
        raise TypeError(f'custom_jvp rule of {name} must return a pair (primal_out, tangent_out), '
                        f'got {type(res).__name__}')
    out, tout = res
    o_leaves, o_tree = tree_util.tree_flatten(out)
    t_leaves, t_tree2 = tree_util.tree_flatten(tout)
    if o_tree != out_tree or t_tree2 != out_tree:
        raise TypeError(f'custom_jvp rule of {name} must produce primal and tangent outputs with '
                        f'the same structure as the function output {out_tree}; got {o_tree} '
                        f'and {t_tree2}')
    for o, t, a in zip(o_leaves, t_leaves, graph.out_avals):
        if common.aval_of(o).shape != a.shape or common.aval_of(t).shape != a.shape:
            raise TypeError(f'custom_jvp rule of {name}: output shapes must match the function '
                            f'output {a.shape}; got primal {common.aval_of(o).shape} and tangent '
                            f'{common.aval_of(t).shape}')
    return o_leaves, t_leaves


def _zero_tangent_for(p):
    a = common.aval_of(p)
    if dtypes.is_inexact(a.dtype):
        return common.zeros(a.strip_weak())
    return common.zeros(a)


custom_jvp_call_p = common.define('custom_jvp_call', _graph_abstract, None, _cjvp_jvp,
                                  multiple_results=True)
custom_jvp_call_p.eager = _graph_eager
custom_jvp_call_p.jvp_reads_values = True
custom_jvp_call_p.inline_graph = True
custom_jvp_call_p.batch = _batch_graph_prim(custom_jvp_call_p)
custom_jvp_call_p.needs_axis = True


def _per_example(x, d):
    a = common.aval_of(x)
    return a if d is None else a.update(shape=a.shape[:d] + a.shape[d + 1:])


def _cjvp_batch_params(params, dims, size):
    """The user's rule is written for one example: once the call is batched its rule
    runs batched too (as under jax.vmap), on primals mapped at `dims` and tangents mapped
    at axis 0 where they carry the batch axis."""
    jvp_fn, in_tree = params['jvp_fn'], params['in_tree']

    def batched(primals, tangents):
        ps, ts = tree_util.tree_leaves(primals), tree_util.tree_leaves(tangents)
        tdims = [0 if common.aval_of(t).ndim > _per_example(p, d).ndim else None
                 for p, t, d in zip(ps, ts, dims)]
        xs, xdims, out_tree = ps + ts, list(dims) + tdims, []

        def flat(*ys):
            res = jvp_fn(tuple(tree_util.tree_unflatten(in_tree, list(ys[:len(ps)]))),
                         tuple(tree_util.tree_unflatten(in_tree, list(ys[len(ps):]))))
            leaves, tree = tree_util.tree_flatten(res)
            out_tree.append(tree)
            return leaves
        g, _ = make_graph(flat, [_per_example(x, d) for x, d in zip(xs, xdims)],
                          name=params['name'])
        outs, od = batch_eval(g, xs, xdims, size)
        return tree_util.tree_unflatten(
            out_tree[0], [common.move_batch_axis(o, d, 0, size) for o, d in zip(outs, od)])
    return dict(params, jvp_fn=batched)


custom_jvp_call_p.batch_params = _cjvp_batch_params


# custom_vjp: forward-mode pushes tangents into `custom_lin`, whose transpose calls bwd.
def _cvjp_jvp(primals, tangents, graph, fwd, bwd, n_nondiff, in_tree, out_tree, name):
    nd, dyn = primals[:n_nondiff], primals[n_nondiff:]
    res = fwd(*nd, *tree_util.tree_unflatten(in_tree, list(dyn)))
    if not (isinstance(res, (tuple, list)) and len(res) == 2):
        raise TypeError(f'custom_vjp fwd rule of {name} must return a pair (output, residuals), '
                        f'got {type(res).__name__}')
    out, residuals = res
    o_leaves, o_tree = tree_util.tree_flatten(out)
    if o_tree != out_tree:
        raise TypeError(f'custom_vjp fwd rule of {name} must return an output with the same '
                        f'structure as the function ({out_tree}), got {o_tree}')
    r_leaves, r_tree = tree_util.tree_flatten(residuals)
    ts = [t if t is not None else _zero_tangent_for(p) for p, t in zip(dyn, tangents[n_nondiff:])]
    out_t_avals = [common.aval_of(o).strip_weak() for o in o_leaves]
    touts = custom_lin_p.bind(*r_leaves, *ts, n_res=len(r_leaves), bwd=bwd, res_tree=r_tree,
                              nondiff=tuple(nd), in_tree=in_tree, out_tree=out_tree,
                              out_avals=tuple(out_t_avals), name=name)
    return o_leaves, touts


custom_vjp_call_p = common.define('custom_vjp_call', _graph_abstract, None, _cvjp_jvp,
                                  multiple_results=True)
custom_vjp_call_p.eager = _graph_eager
custom_vjp_call_p.jvp_reads_values = True
custom_vjp_call_p.inline_graph = True
custom_vjp_call_p.batch = _batch_graph_prim(custom_vjp_call_p)
custom_vjp_call_p.needs_axis = True
# Inside a shard_map body a call's outputs have the types its graph was traced to, and its
# operands are left as they are (the graph was typed on them).
for _p in (custom_jvp_call_p, custom_vjp_call_p):
    _p.varying = lambda ins, graph, **_: [a.vma for a in graph.out_avals]


# shard_map under a trace: `graph` is its global form (the body under nested vmaps over
# the mesh axes), which the compiler inlines and every transformation differentiates or
# batches; `body` (one device's block) with `mesh`, `in_specs` and `out_specs` lets the
# sharded-jit partitioner (transforms/partition.py) run it on the devices instead.
def _smap_jvp(primals, tangents, graph, **params):
    return jvp_eval(graph, primals, tangents)


def _smap_batch(args, dims, graph, **params):
    return batch_eval(graph, args, dims, common.batch_size(args, dims))


shard_map_p = common.define('shard_map', _graph_abstract, None, _smap_jvp, batch=_smap_batch,
                            multiple_results=True)
shard_map_p.eager = _graph_eager
shard_map_p.inline_graph = True


def _lin_abstract(*avals, out_avals, **params):
    return list(out_avals)


def _lin_eager(*args, name, **params):
    raise TypeError(f"can't apply forward-mode autodiff (jvp) to a custom_vjp function "
                    f"({name}); use reverse mode (grad/vjp), or define it with custom_jvp.")


def _lin_transpose(cts, *args, n_res, bwd, res_tree, nondiff, in_tree, out_tree, out_avals, name):
    res = tree_util.tree_unflatten(res_tree, list(args[:n_res]))
    cts = [c if c is not None else common.zeros(a) for c, a in zip(cts, out_avals)]
    ct_tree = tree_util.tree_unflatten(out_tree, cts)
    got = bwd(*nondiff, res, ct_tree)
    if not isinstance(got, (tuple, list)):
        raise TypeError(f'Custom VJP bwd rule of {name} must produce a tuple with one entry per '
                        f'differentiable argument, got {type(got).__name__}')
    n_args = len(in_tree.children) if in_tree.kind == 'tuple' else None
    if n_args is not None and len(got) != n_args:
        raise TypeError(f'Custom VJP bwd rule of {name} must produce a tuple of length equal to '
                        f'the number of primal arguments ({n_args}), but got length {len(got)}')
    leaves = []
    for sub, expect in zip(got, in_tree.children):
        if sub is None:
            leaves += [None] * expect.num_leaves
            continue
        try:
            leaves += tree_util.flatten_up_to(expect, sub)
        except ValueError:
            raise TypeError(f'Custom VJP bwd rule of {name} must produce an output with the same '
                            f'container (pytree) structure as the args tuple of the primal '
                            f'function; expected {expect}, got {tree_util.tree_structure(sub)}') from None
    ins = args[n_res:]
    out = []
    for c, x in zip(leaves, ins):
        if c is not None and common.aval_of(c).shape != x.aval.shape:
            raise ValueError(f'Custom VJP bwd rule of {name} returned a cotangent of shape '
                             f'{common.aval_of(c).shape} for an argument of shape {x.aval.shape}')
        out.append(c)
    return [None] * n_res + out


custom_lin_p = common.define('custom_lin', _lin_abstract, None, transpose=_lin_transpose,
                             multiple_results=True)
custom_lin_p.eager = _lin_eager
