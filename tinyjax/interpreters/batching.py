"""Batching: evaluate a graph with every primitive's batching rule, tracking which axis
of each value is the batch axis (None: unbatched). The named axes of enclosing vmaps
are frames on a stack, which collectives bound inside consult (`axis_frame`)."""
import contextlib
import threading

from tinyjax.core.array import aval_of
from tinyjax.core.ir import Literal
from tinyjax.interpreters.base_ops import broadcast_in_dim, move_batch_axis


class _AxisFrames(threading.local):
    def __init__(self):
        # (name, size, typed) of this thread's enclosing vmaps and mesh axes, innermost
        # last; typed: a shard_map axis whose values carry their vma (check_vma)
        self.names = []


_frames = _AxisFrames()


def batch_eval(graph, args, dims, size, axis_name=None):
    """Evaluate graph on args batched along dims (None = unbatched); returns (outs, dims)."""
    env = {}

    def read(a):
        return (a.val, None) if isinstance(a, Literal) else env[a]

    for v, c in zip(graph.constvars, graph.consts):
        env[v] = (c, None)
    for v, x, d in zip(graph.invars, args, dims):
        env[v] = (x, d)
    for e in graph.eqns:
        ins = [read(a) for a in e.inputs]
        xs, ds = [x for x, _ in ins], [d for _, d in ins]
        if all(d is None for d in ds) and not getattr(e.prim, 'needs_axis', False):
            outs = e.prim.bind(*xs, **e.params)
            out_dims = [None] * len(e.outputs) if e.prim.multiple_results else None
        else:
            if e.prim.batch is None:
                raise NotImplementedError(f'Batching rule for {e.prim.name!r} not implemented')
            if getattr(e.prim, 'needs_axis', False):
                outs, out_dims = e.prim.batch(xs, ds, frame_name=axis_name, size=size, **e.params)
            else:
                outs, out_dims = e.prim.batch(xs, ds, **e.params)
        if not e.prim.multiple_results:
            outs, out_dims = [outs], [out_dims]
        for v, o, d in zip(e.outputs, outs, out_dims):
            env[v] = (o, d)
    res = [read(a) for a in graph.outvars]
    return [x for x, _ in res], [d for _, d in res]


@contextlib.contextmanager
def axis_frame_pushed(name, size, typed=False):
    """A vmap over `size` examples named `name` (or None) is active inside; or, typed,
    a shard_map mesh axis whose values are typed with the axes they vary along."""
    _frames.names.append((name, size, typed))
    try:
        yield
    finally:
        _frames.names.pop()


def axis_frame(name):
    for n, size, _ in reversed(_frames.names):
        if n == name:
            return size
    return None


def typed_axes():
    """The names of the enclosing typed mesh axes, outermost first."""
    names = _frames.names
    return tuple(n for n, _, typed in names if typed) if names else ()


# --- rule builders: the batching rules most primitives share ---------------------------
def batch_size(args, dims):
    for x, d in zip(args, dims):
        if d is not None:
            return aval_of(x).shape[d]
    raise ValueError('no batched argument')


def align_elementwise_batch(args, dims):
    """Operands of an elementwise op with the batch axis moved to the front: unbatched
    0-d operands stay 0-d (they broadcast), every other operand gets the full shape."""
    size = batch_size(args, dims)
    per_example = [aval_of(x).shape if d is None else
                   aval_of(x).shape[:d] + aval_of(x).shape[d + 1:] for x, d in zip(args, dims)]
    shape = next((s for s in per_example if s != ()), ())
    full_shape = (size,) + shape
    out = []
    for x, d, s in zip(args, dims, per_example):
        if d is None:
            out.append(x if s == () else
                       broadcast_in_dim(x, full_shape, tuple(range(1, len(full_shape)))))
        else:
            x = move_batch_axis(x, d, 0)
            out.append(x if s == shape else broadcast_in_dim(x, full_shape, (0,)))
    return out


def _at_front(prim, outs):
    return outs, ([0] * len(outs) if prim.multiple_results else 0)


def broadcasting_rule(prim):
    """The batching rule of an elementwise primitive: its operands aligned with the batch
    axis in front (`align_elementwise_batch`), every output batched at axis 0."""
    def rule(args, dims, **params):
        return _at_front(prim, prim.bind(*align_elementwise_batch(args, dims), **params))
    return rule


def leading_axis_rule(prim, shift_params=None):
    """The batching rule of a one-operand primitive: the batch axis moved to the front and
    the params rewritten for it by shift_params(size, **params) (None: unchanged); every
    output batched at axis 0."""
    def rule(args, dims, **params):
        x = move_batch_axis(args[0], dims[0], 0)
        if shift_params is not None:
            params = shift_params(aval_of(x).shape[0], **params)
        return _at_front(prim, prim.bind(x, **params))
    return rule


def shift_axes(size, axes, **params):
    """Params of a reducer over `axes` once a batch axis is in front."""
    return dict(params, axes=tuple(a + 1 for a in axes))


def reducer_rule(prim):
    """The batching rule of a reduction over its `axes` param."""
    return leading_axis_rule(prim, shift_axes)
