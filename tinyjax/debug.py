"""jax.debug: print and callback that work inside jit, vmap and grad."""
import numpy as np

from tinyjax import tree_util
from tinyjax.core import trace as core_trace
from tinyjax.global_array import visualize as visualize_array_sharding  # noqa: F401
from tinyjax.ops.debug import debug_callback_p


def callback(fn, *args, ordered=False, **kwargs):
    """Call fn(*args, **kwargs) with concrete (NumPy) values when they are computed."""
    leaves, tree = tree_util.tree_flatten((args, kwargs))
    arrays = [core_trace.as_array(x) for x in leaves]

    def host_call(*values):
        a, kw = tree_util.tree_unflatten(tree, [np.asarray(v) for v in values])
        fn(*a, **kw)
    debug_callback_p.bind(*arrays, callback=host_call)


def print(fmt, *args, ordered=False, **kwargs):
    """`jax.debug.print('x = {x}', x=x)`: formats with str.format when the values exist."""
    import builtins
    callback(lambda *a, **kw: builtins.print(fmt.format(*a, **kw)), *args, **kwargs)
