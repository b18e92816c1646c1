"""jax.pure_callback: call a host (NumPy) function from traced code."""
import numpy as np

from tinyjax import dtypes, tree_util
from tinyjax.core import trace as core_trace
from tinyjax.core.ir import ShapedArray
from tinyjax.numpy.conversion import _dtype_of
from tinyjax.ops.callback import pure_callback_p


def pure_callback(callback, result_shape_dtypes, *args, sharding=None, vmap_method=None,
                  **kwargs):
    """callback(*args, **kwargs) on NumPy values, returning arrays shaped like
    result_shape_dtypes (a pytree of objects with .shape and .dtype). It may be dropped
    when its results are unused, and called once per example under vmap
    (vmap_method='sequential') or on whole batches ('expand_dims', 'broadcast_all')."""
    leaves, in_tree = tree_util.tree_flatten((args, kwargs))
    arrays = [core_trace.as_array(x) for x in leaves]
    specs, out_tree = tree_util.tree_flatten(result_shape_dtypes)
    avals = tuple(ShapedArray(tuple(s.shape), dtypes.canonicalize(_dtype_of(s.dtype)), False)
                  for s in specs)

    def host(*values):
        a, kw = tree_util.tree_unflatten(in_tree, list(values))
        return out_tree.flatten_up_to(callback(*a, **kw))
    outs = pure_callback_p.bind(*arrays, callback=host, result_avals=avals,
                                vmap_method=vmap_method)
    return tree_util.tree_unflatten(out_tree, outs)
