"""Batching: evaluate a graph with every primitive's batching rule, tracking which axis
of each value is the batch axis (None: unbatched). The named axes of enclosing vmaps
are frames on a stack, which collectives bound inside consult (`axis_frame`)."""
import contextlib
import threading

from tinyjax.core.ir import Literal


class _AxisFrames(threading.local):
    def __init__(self):
        self.names = []    # (name, size) of this thread's enclosing vmaps, innermost last


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
def axis_frame_pushed(name, size):
    """A vmap over `size` examples named `name` (or None) is active inside."""
    _frames.names.append((name, size))
    try:
        yield
    finally:
        _frames.names.pop()


def axis_frame(name):
    for n, size in reversed(_frames.names):
        if n == name:
            return size
    return None
