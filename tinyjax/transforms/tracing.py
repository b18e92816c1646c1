"""Tracing user functions of pytrees to flat graphs."""
from tinyjax import tree_util
from tinyjax.core import trace as core_trace
from tinyjax.core.array import Array
import numpy as np


def flatten_fun(f, in_tree, out_store):
    """A function of flat leaves calling f on the unflattened tree; records the output tree."""
    def flat(*leaves):
        args, kwargs = tree_util.tree_unflatten(in_tree, leaves)
        out = f(*args, **kwargs)
        out_leaves, out_tree = tree_util.tree_flatten(out)
        out_store.append(out_tree)
        return out_leaves
    flat.__name__ = getattr(f, '__name__', 'fun')
    return flat


def with_positions(fun, args, positions, kwargs=None):
    """fun as a function of the positional arguments at `positions`; the other
    positional arguments (and `kwargs`) stay as given. Keyword arguments passed to the
    result go through to fun."""
    def f(*values, **kw):
        full = list(args)
        for i, v in zip(positions, values):
            full[i] = v
        return fun(*full, **({**kwargs, **kw} if kwargs else kw))
    f.__name__ = getattr(fun, '__name__', 'fun')
    return f


def trace_to_graph(f, args, kwargs=None, concrete=False, avals=None, name=None):
    """Trace f(*args, **kwargs) to a graph over the flattened arguments.

    Returns (graph, in_tree, out_tree). With `avals` the tracing is abstract over them.
    """
    leaves, in_tree = tree_util.tree_flatten((tuple(args), dict(kwargs or {})))
    store = []
    flat = flatten_fun(f, in_tree, store)
    graph, _ = core_trace.make_graph(flat, avals if avals is not None else leaves,
                                     concrete=concrete, name=name or getattr(f, '__name__', 'fun'))
    return graph, in_tree, store[0]


def is_array_like(x):
    return isinstance(x, (Array, np.ndarray, np.generic, bool, int, float, complex))


def prefix_leaves(prefix, tree, is_leaf, what, default=None):
    """One entry of `prefix` per leaf of `tree`: `prefix` is a tree prefix whose leaves
    satisfy is_leaf (None standing for `default`), as jit's shardings and shard_map's
    specs are given."""
    out = []

    def go(p, t):
        if p is None or is_leaf(p):
            out.extend([default if p is None else p] * len(tree_util.tree_leaves(t)))
            return
        pk, tk = tree_util._node_children(p), tree_util._node_children(t)
        if pk is None:
            raise TypeError(f'{what}: unexpected entry {p!r}')
        if tk is None or pk[0] != tk[0] or len(pk[2]) != len(tk[2]) or \
                (pk[0] == 'dict' and pk[1][1] != tk[1][1]):
            raise ValueError(f'{what} must be a tree prefix of the corresponding value: got '
                             f'{prefix!r} for a value of structure {tree_util.tree_structure(tree)}')
        for pc, tc in zip(pk[2], tk[2]):
            go(pc, tc)
    go(prefix, tree)
    del go     # the self-calling closure is a cycle holding `tree` (tree_util._flatten)
    return out

