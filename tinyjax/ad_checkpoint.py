"""jax.ad_checkpoint: name values for checkpoint policies, the policies themselves
(`checkpoint_policies`, also `tinyjax.checkpoint_policies`), and a listing of the
residuals a function's backward pass would keep (`print_saved_residuals`)."""
import inspect
import types

from tinyjax import tree_util
from tinyjax.lax import conv_general_dilated_p, dot_general_p
from tinyjax.core.ir import Literal
from tinyjax.ops import common
from tinyjax.ops.remat import Offloadable, Recompute, Saveable, name_p, remat_p  # noqa: F401
from tinyjax.interpreters import ad
from tinyjax.transforms.custom import checkpoint, remat  # noqa: F401
from tinyjax.transforms.tracing import trace_to_graph


def checkpoint_name(x, name):
    """x unchanged, named `name` for `save_only_these_names` and its kin."""
    return tree_util.tree_map(lambda v: name_p.bind(v, name=name), x)


# --- policies: called as policy(prim, *input_avals, **params) -> save or not ---------
def everything_saveable(*_, **__):
    """Save every value the backward pass needs, as without checkpoint."""
    return True


def nothing_saveable(*_, **__):
    """Save only the checkpointed function's inputs; recompute everything else."""
    return False


def _dot_without_batch_dims(prim, params):
    if prim is not dot_general_p:
        return False
    _, (lhs_batch, rhs_batch) = params['dimension_numbers']
    return not lhs_batch and not rhs_batch


def dots_saveable(prim, *_, **__):
    """Save the results of matrix products and convolutions."""
    return prim is dot_general_p or prim is conv_general_dilated_p


checkpoint_dots = dots_saveable


def dots_with_no_batch_dims_saveable(prim, *_, **params):
    """Save the results of matrix products that have no batch dimensions."""
    return _dot_without_batch_dims(prim, params)


checkpoint_dots_with_no_batch_dims = dots_with_no_batch_dims_saveable


def _named(prim, params):
    return params['name'] if prim is name_p else None


def save_only_these_names(*names):
    """Save the values named (by checkpoint_name) with one of `names`, nothing else."""
    names = frozenset(names)
    return lambda prim, *_, **params: _named(prim, params) in names


def save_any_names_but_these(*names):
    """Save every named value except those named with one of `names`."""
    names = frozenset(names)
    return lambda prim, *_, **params: prim is name_p and params['name'] not in names


def save_anything_except_these_names(*names):
    """Save anything (as JAX does, this ignores `names`)."""
    return everything_saveable


def save_from_both_policies(policy_1, policy_2):
    """Save what either policy saves."""
    def policy(prim, *avals, **params):
        a, b = policy_1(prim, *avals, **params), policy_2(prim, *avals, **params)
        if not (isinstance(a, bool) and isinstance(b, bool)):
            raise ValueError(f'save_from_both_policies: both policies must return a bool; got '
                             f'{a!r} and {b!r}. Write the combined policy as a function instead.')
        return a or b
    return policy


def save_and_offload_only_these_names(*, names_which_can_be_saved, names_which_can_be_offloaded,
                                      offload_src, offload_dst):
    """Save some names, offload others (kept in place by tinyjax), recompute the rest."""
    saved, offloaded = frozenset(names_which_can_be_saved), frozenset(names_which_can_be_offloaded)
    if saved & offloaded:
        raise ValueError(f'save_and_offload_only_these_names: a name may not be both saved and '
                         f'offloaded; both lists hold {sorted(saved & offloaded)}')

    def policy(prim, *_, **params):
        name = _named(prim, params)
        if name in saved:
            return Saveable
        if name in offloaded:
            return Offloadable(offload_src, offload_dst)
        return Recompute
    return policy


def offload_dot_with_no_batch_dims(offload_src, offload_dst):
    """Offload (tinyjax: keep) batch-free matrix products; recompute everything else."""
    def policy(prim, *_, **params):
        if _dot_without_batch_dims(prim, params):
            return Offloadable(offload_src, offload_dst)
        return Recompute
    return policy


checkpoint_policies = types.SimpleNamespace(**{n: globals()[n] for n in (
    'everything_saveable', 'nothing_saveable', 'dots_saveable', 'checkpoint_dots',
    'dots_with_no_batch_dims_saveable', 'checkpoint_dots_with_no_batch_dims',
    'save_only_these_names', 'save_any_names_but_these', 'save_anything_except_these_names',
    'save_from_both_policies', 'save_and_offload_only_these_names',
    'offload_dot_with_no_batch_dims')})


# --- which residuals the backward pass keeps -----------------------------------------
def _argument_names(f, args, kwargs):
    """A name per flattened argument leaf: the parameter name plus the leaf's key path."""
    try:
        bound = inspect.signature(f).bind(*args, **kwargs)
        pairs = list(bound.arguments.items())
        kinds = {p.name: p.kind for p in inspect.signature(f).parameters.values()}
    except (TypeError, ValueError):
        pairs = [(f'args[{i}]', a) for i, a in enumerate(args)] + list(kwargs.items())
        kinds = {}
    by_leaf = []
    for name, value in pairs:
        if kinds.get(name) is inspect.Parameter.VAR_POSITIONAL:
            value = tuple(value)
        for path, _ in tree_util.tree_flatten_with_path(value)[0]:
            by_leaf.append(name + tree_util.keystr(path))
    return by_leaf


def _describe(var, graph, arg_desc):
    """Where a value of `graph` comes from, as JAX's print_saved_residuals says it."""
    if isinstance(var, Literal):
        return 'from a literal'
    if var in graph.constvars:
        return 'from a constant'
    if var in graph.invars:
        return arg_desc[graph.invars.index(var)]
    for e in graph.eqns:
        if var in e.outputs:
            if e.prim is remat_p:     # a value a checkpoint saved: say what made it inside
                inner = e.params['graph']
                inner_var = inner.outvars[e.outputs.index(var)]
                inner_args = [_describe(a, graph, arg_desc) for a in e.inputs]
                return _describe(inner_var, inner, inner_args)
            if e.prim is name_p:
                return f"named '{e.params['name']}'"
            return f'output of {e.prim.name}'
    raise AssertionError('a residual defined nowhere')


def saved_residuals(f, *args, **kwargs):
    """[(aval, description)] for each value reverse-mode differentiation of f at args
    keeps from the forward pass for the backward pass (arguments, constants, outputs of
    equations), in JAX's order: literals, constants, arguments, then by equation.
    tinyjax records no source locations, so a description names no file or line."""
    leaves = tree_util.tree_leaves((args, kwargs))
    names = _argument_names(f, args, kwargs)
    graph, _, _ = trace_to_graph(f, args, kwargs, avals=[common.aval_of(x) for x in leaves])
    jg, _ = ad.jvp_graph(graph)
    known, _, _, n_res = ad.partial_eval(jg, len(graph.invars))
    residuals = known.outvars[len(known.outvars) - n_res:]
    arg_desc = [f'from the argument {n}' for n in names]

    def rank(v):
        if isinstance(v, Literal):
            return (0, 0)
        if v in jg.constvars:
            return (1, jg.constvars.index(v))
        if v in jg.invars:
            return (2, jg.invars.index(v))
        return (3, next(i for i, e in enumerate(jg.eqns) if v in e.outputs))
    ordered = sorted(residuals, key=rank)
    return [(v.aval, _describe(v, jg, arg_desc)) for v in ordered]


def print_saved_residuals(f, *args, **kwargs):
    for aval, description in saved_residuals(f, *args, **kwargs):
        print(f'{aval.str_short()} {description}')
