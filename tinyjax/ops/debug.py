"""debug_callback: calls a Python function with the values of arrays when they are
computed — eagerly, inside a compiled program, per example under vmap. It has no
outputs and is effectful, so the passes keep it where it is."""
from tinyjax.ops import common


def _abstract(*avals, callback, **params):
    return []


def _eager(*arrays, callback, **params):
    callback(*arrays)
    return []


def _jvp(primals, tangents, **params):
    debug_callback_p.bind(*primals, **params)
    return [], []


def _batch(args, dims, callback, **params):
    size = common.batch_size(args, dims)

    def per_example(*arrays):
        # One call per example, as if the function were run in a loop.
        for i in range(size):
            callback(*[a[i] if d is not None else a for a, d in zip(arrays, moved_dims)])
    moved = [common.move_batch_axis(x, d, 0) if d is not None else x for x, d in zip(args, dims)]
    moved_dims = [0 if d is not None else None for d in dims]
    debug_callback_p.bind(*moved, callback=per_example, **params)
    return [], []


debug_callback_p = common.define('debug_callback', _abstract, None, _jvp, batch=_batch,
                                 multiple_results=True)
debug_callback_p.eager = _eager
debug_callback_p.effectful = True
debug_callback_p.transpose = lambda cts, *args, **params: [None] * len(args)
