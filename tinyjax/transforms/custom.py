"""custom_jvp, custom_vjp and checkpoint: user-defined derivative rules and remat."""
import functools

from tinyjax import tree_util
from tinyjax.core import trace as core_trace
from tinyjax.ops import custom as custom_ops
from tinyjax.ops import remat as remat_ops
from tinyjax.transforms.tracing import trace_to_graph


def _split(args, nondiff_argnums):
    nd = tuple(args[i] for i in nondiff_argnums)
    dyn = tuple(a for i, a in enumerate(args) if i not in nondiff_argnums)
    return nd, dyn


class custom_jvp:
    """`@custom_jvp def f(x): ...` then `@f.defjvp def f_jvp(primals, tangents): ...`."""

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun, self.nondiff_argnums, self.jvp = fun, tuple(nondiff_argnums), None

    def defjvp(self, jvp):
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps):
        def rule(primals, tangents):
            out = self.fun(*primals)
            parts = [j(t, out, *primals) for j, t in zip(jvps, tangents) if j is not None]
            tout = parts[0]
            for p in parts[1:]:
                tout = tree_util.tree_map(lambda a, b: a + b, tout, p)
            return out, tout
        self.jvp = rule

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError('custom_jvp functions take positional arguments only')
        if self.jvp is None:
            raise AttributeError(f'No JVP defined for custom_jvp function {self.__name__} '
                                 'using defjvp.')
        nd, dyn = _split(args, self.nondiff_argnums)
        return _call(custom_ops.custom_jvp_call_p, self.fun, nd, dyn, self.nondiff_argnums,
                     dict(jvp_fn=self.jvp), self.__name__)


class custom_vjp:
    """`@custom_vjp def f(x): ...` then `f.defvjp(fwd, bwd)`."""

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun, self.nondiff_argnums = fun, tuple(nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError('custom_vjp functions take positional arguments only')
        if self.fwd is None:
            raise AttributeError(f'No VJP defined for custom_vjp function {self.__name__} '
                                 'using defvjp.')
        nd, dyn = _split(args, self.nondiff_argnums)
        return _call(custom_ops.custom_vjp_call_p, self.fun, nd, dyn, self.nondiff_argnums,
                     dict(fwd=self.fwd, bwd=self.bwd), self.__name__)


def _call(prim, fun, nd, dyn, nondiff_argnums, rule_params, name):
    builder = core_trace.current_builder()
    if builder is None:
        return fun(*_merge(nd, dyn, nondiff_argnums))   # nothing to differentiate: run f
    nd_leaves = list(nd)

    def flat_fun(*dyn_args):
        return fun(*_merge(tuple(nd_leaves), dyn_args, nondiff_argnums))
    # Under grad outside jit the primals are concrete, so f may branch on them (JAX).
    graph, in_tree, out_tree = trace_to_graph(flat_fun, dyn, concrete=builder.concrete,
                                              name=name)
    in_tree = in_tree.children[0]           # drop the (args, kwargs) wrapper
    leaves = tree_util.tree_leaves(dyn)
    # Non-differentiable arguments are closed over by the graph and passed to the rules.
    outs = prim.bind(*leaves, graph=graph, n_nondiff=0, in_tree=in_tree, out_tree=out_tree,
                     name=name, **_with_nondiff(rule_params, nd))
    return tree_util.tree_unflatten(out_tree, outs)


def _with_nondiff(rule_params, nd):
    if not nd:
        return rule_params
    out = {}
    for k, fn in rule_params.items():
        out[k] = functools.partial(fn, *nd)
    return out


def _merge(nd, dyn, nondiff_argnums):
    args, nd_it, dyn_it = [], iter(nd), iter(dyn)
    for i in range(len(nd) + len(dyn)):
        args.append(next(nd_it) if i in nondiff_argnums else next(dyn_it))
    return args


def checkpoint(fun, prevent_cse=True, policy=None, static_argnums=()):
    """Rematerialise fun's intermediates in the backward pass instead of storing them;
    `policy` (see `tinyjax.checkpoint_policies`) names the ones the forward may save."""
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def remat_f(*args, **kwargs):
        if core_trace.current_builder() is None:
            return fun(*args, **kwargs)
        st, dyn = _split(args, static)

        def f(*d):
            return fun(*_merge(st, d, static), **kwargs)
        graph, _, out_tree = trace_to_graph(f, dyn, name=getattr(fun, '__name__', 'fun'))
        outs = remat_ops.remat_p.bind(*tree_util.tree_leaves(dyn), graph=graph,
                                      prevent_cse=prevent_cse, policy=policy)
        return tree_util.tree_unflatten(out_tree, outs)
    return remat_f


remat = checkpoint


def custom_gradient(fun):
    """`fun(*args)` returns `(value, vjp)` with `vjp(cotangent)` giving one cotangent per
    argument. The rule is found again from the primal arguments when the backward pass
    runs (it may close over anything), so the forward computation runs twice."""
    def cotangents(args, ct):
        cts = fun(*args)[1](ct)
        return cts if isinstance(cts, tuple) else (cts,)

    wrapped = custom_vjp(lambda *args: fun(*args)[0])
    wrapped.defvjp(lambda *args: (fun(*args)[0], args), cotangents)
    return functools.wraps(fun)(lambda *args: wrapped(*args))
