"""vmap as a graph rewrite: trace f for one example, then evaluate its graph with every
primitive's batching rule (`interpreters.batching.batch_eval`), so the batch runs as
batched operations."""
import functools

from tinyjax import tree_util
from tinyjax.core import trace as core_trace
from tinyjax.core.array import aval_of
from tinyjax.interpreters.base_ops import move_batch_axis
from tinyjax.interpreters.batching import axis_frame_pushed, batch_eval
from tinyjax.transforms.tracing import flatten_fun

def _broadcast_prefix(prefix, tree, what):
    """One entry of `prefix` (ints/None) per leaf of `tree`."""
    out = []

    def go(p, t):
        if p is None or isinstance(p, int):
            out.extend([p] * len(tree_util.tree_leaves(t)))
            return
        pk = tree_util._node_children(p)
        tk = tree_util._node_children(t)
        if pk is None:
            raise ValueError(f'vmap {what} must be an int, None, or a (nested) tuple/list/dict '
                             f'of them, got {p!r}')
        if tk is None or pk[0] != tk[0] or len(pk[2]) != len(tk[2]) or \
                (pk[0] == 'dict' and pk[1][1] != tk[1][1]):
            raise ValueError(f'vmap {what} specification must be a tree prefix of the '
                             f'corresponding value, got specification {prefix!r} for value tree '
                             f'{tree_util.tree_structure(tree)}.')
        for pc, tc in zip(pk[2], tk[2]):
            go(pc, tc)
    go(prefix, tree)
    del go     # the self-calling closure is a cycle holding `tree` (tree_util._flatten)
    return out


def vmap(fun, in_axes=0, out_axes=0, axis_name=None, axis_size=None, spmd_axis_name=None,
         **kwargs):
    if kwargs:
        bad = next(iter(kwargs))
        hint = ' Did you mean in_axes?' if bad == 'in_axis' else \
            (' Did you mean out_axes?' if bad == 'out_axis' else '')
        raise TypeError(f'vmap() got an unexpected keyword argument {bad!r}.{hint}')
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if not (in_axes is None or isinstance(in_axes, (int, tuple, dict))):
        raise TypeError(f'vmap in_axes must be an int, None, or a tuple of entries '
                        f'corresponding to the positional arguments passed to the function, '
                        f'but got {in_axes!r}.')

    @functools.wraps(fun)
    def vmapped(*args, **kw):
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(f'vmap in_axes must be an int, None, or a tuple of entries '
                             f'corresponding to the positional arguments passed to the '
                             f'function, but got len(in_axes)={len(in_axes)}, len(args)={len(args)}')
        leaves, in_tree = tree_util.tree_flatten((tuple(args), kw))
        n_pos = len(tree_util.tree_leaves(tuple(args)))
        axes = _broadcast_prefix(in_axes, tuple(args), 'in_axes') + [0] * (len(leaves) - n_pos)
        avals = [aval_of(x) for x in leaves]
        sizes = {}
        norm = []
        for i, (a, ax) in enumerate(zip(avals, axes)):
            if ax is None:
                norm.append(None)
                continue
            if not -a.ndim <= ax < a.ndim:
                raise ValueError(f'vmap was requested to map its argument along axis {ax}, '
                                 f'which implies that its rank should be at least {max(ax, -ax - 1) + 1}, '
                                 f'but is only {a.ndim} (its shape is {a.shape})')
            ax %= a.ndim
            norm.append(ax)
            sizes.setdefault(a.shape[ax], []).append((i, ax, a))
        if len(sizes) > 1:
            lines = [f'  * some axes ({len(v)} of them) had size {s}, e.g. axis {v[0][1]} of '
                     f'argument leaf {v[0][0]} of type {v[0][2].str_short()};' for s, v in sizes.items()]
            raise ValueError('vmap got inconsistent sizes for array axes to be mapped:\n'
                             + '\n'.join(lines))
        if sizes:
            size = next(iter(sizes))
            if axis_size is not None and axis_size != size:
                raise ValueError(f'vmap got axis_size={axis_size} but mapped axes have size {size}')
        elif axis_size is not None:
            size = axis_size
        else:
            raise ValueError('vmap must have at least one non-None value in in_axes, or be '
                             'given axis_size')
        ex_avals = [a if d is None else a.update(shape=a.shape[:d] + a.shape[d + 1:])
                    for a, d in zip(avals, norm)]
        store = []
        flat = flatten_fun(fun, in_tree, store)
        with axis_frame_pushed(axis_name, size):
            graph, _ = core_trace.make_graph(flat, ex_avals, name=getattr(fun, '__name__', 'fun'))
        with axis_frame_pushed(axis_name, size):
            outs, dims = batch_eval(graph, leaves, norm, size, axis_name)
        out_tree = store[0]
        oax = _broadcast_prefix(out_axes, tree_util.tree_unflatten(out_tree, outs), 'out_axes')
        final = []
        for o, d, od in zip(outs, dims, oax):
            if od is None:
                if d is not None:
                    raise ValueError('vmap has mapped output but out_axes is None; an output '
                                     'that depends on a mapped input needs an out_axes entry')
                final.append(o)
                continue
            nd = aval_of(o).ndim + (d is None)
            final.append(move_batch_axis(o, d, od % nd, size))
        return tree_util.tree_unflatten(out_tree, final)
    return vmapped
