"""jax.flatten_util.ravel_pytree: a pytree of arrays as one flat vector, and back."""
import numpy as np

from tinyjax import numpy as jnp
from tinyjax import tree_util


def ravel_pytree(pytree):
    """(1-D array of every leaf raveled and concatenated in leaf order, unravel).

    The vector has the leaves' promoted dtype (JAX's `result_type`); `unravel(vector)`
    rebuilds the tree with each leaf's shape and original dtype."""
    leaves, treedef = tree_util.tree_flatten(pytree)
    leaves = [jnp.asarray(x) for x in leaves]
    shapes = [x.shape for x in leaves]
    leaf_dtypes = [x.dtype for x in leaves]
    sizes = [int(np.prod(s)) for s in shapes]
    if leaves:
        dtype = jnp.result_type(*leaves)
        flat = jnp.concatenate([jnp.ravel(x).astype(dtype) for x in leaves])
    else:
        dtype = np.dtype(np.float32)
        flat = jnp.zeros((0,), dtype)
    bounds = np.cumsum(sizes)[:-1].tolist()

    def unravel(vector):
        vector = jnp.asarray(vector)
        if vector.shape != (sum(sizes),):
            raise ValueError(f'The unravel function expected an array of shape '
                             f'{(sum(sizes),)}, got shape {vector.shape}.')
        if vector.dtype != dtype:
            raise TypeError(f'The unravel function expected an array of dtype {dtype}, '
                            f'got dtype {vector.dtype}.')
        parts = jnp.split(vector, bounds) if leaves else []
        return tree_util.tree_unflatten(treedef, [
            p.reshape(s).astype(d) for p, s, d in zip(parts, shapes, leaf_dtypes)])

    return flat, unravel
