"""Top-level functions: make_jaxpr, device_put/get, block_until_ready, eval_shape."""
import contextlib

import numpy as np

from tinyjax import tree_util
from tinyjax.core import trace as core_trace
from tinyjax.core.array import ArrayImpl
from tinyjax.numpy.conversion import device_put  # noqa: F401 (defined beside asarray)
from tinyjax.core.ir import ShapeDtypeStruct, ShapedArray  # noqa: F401 (ShapeDtypeStruct: API)
from tinyjax.ops import common
from tinyjax.transforms.tracing import trace_to_graph, with_positions


def _abstract(x):
    if isinstance(x, ShapeDtypeStruct):
        return ShapedArray(x.shape, x.dtype, x.weak_type)
    return common.aval_of(x)


class ClosedJaxpr:
    """What make_jaxpr returns: prints as a jaxpr; `.jaxpr` is the Graph."""

    def __init__(self, graph):
        self.jaxpr = graph
        self.consts = graph.consts

    in_avals = property(lambda self: self.jaxpr.in_avals)
    out_avals = property(lambda self: self.jaxpr.out_avals)
    eqns = property(lambda self: self.jaxpr.eqns)

    def __str__(self):
        return str(self.jaxpr)

    __repr__ = __str__

    def pretty_print(self):
        return str(self.jaxpr)


def make_jaxpr(fun, static_argnums=(), return_shape=False):
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    def wrapped(*args, **kwargs):
        dyn_idx = [i for i in range(len(args)) if i not in static]

        f = with_positions(fun, args, dyn_idx, kwargs)
        dyn = tuple(args[i] for i in dyn_idx)
        leaves = tree_util.tree_leaves(dyn)
        graph, _, out_tree = trace_to_graph(f, dyn, avals=[_abstract(x) for x in leaves])
        jaxpr = ClosedJaxpr(graph)
        if return_shape:
            shapes = [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in graph.out_avals]
            return jaxpr, tree_util.tree_unflatten(out_tree, shapes)
        return jaxpr
    return wrapped


def eval_shape(fun, *args, **kwargs):
    leaves, in_tree = tree_util.tree_flatten((args, kwargs))
    graph, _, out_tree = trace_to_graph(fun, args, kwargs, avals=[_abstract(x) for x in leaves])
    return tree_util.tree_unflatten(
        out_tree, [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in graph.out_avals])


def device_get(x):
    def get(v):
        if isinstance(v, ArrayImpl):
            return np.asarray(v._value())
        return v
    return tree_util.tree_map(get, x)


def block_until_ready(x):
    for leaf in tree_util.tree_leaves(x):
        if isinstance(leaf, ArrayImpl):
            leaf.block_until_ready()
    return x


def ensure_compile_time_eval():
    return contextlib.nullcontext()


def is_tracer(x):
    return isinstance(x, core_trace.Tracer)


def named_call(fun, *, name=None):
    """Returns fun: tinyjax graphs carry no name stack, so naming changes nothing computed."""
    return fun


@contextlib.contextmanager
def named_scope(name):
    """A name for the operations traced inside (JAX uses it in profiles); a no-op here."""
    if not isinstance(name, str):
        raise TypeError('named_scope name argument must be a string.')
    yield
