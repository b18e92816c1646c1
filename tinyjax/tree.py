"""`tinyjax.tree`: the short names of `jax.tree` (`tree.map`, `tree.leaves`, ...)."""
from tinyjax.tree_util import (  # noqa: F401
    tree_all as all,
    tree_broadcast as broadcast,
    tree_flatten as flatten,
    tree_flatten_with_path as flatten_with_path,
    tree_leaves as leaves,
    tree_leaves_with_path as leaves_with_path,
    tree_map as map,
    tree_map_with_path as map_with_path,
    tree_reduce as reduce,
    tree_reduce_associative as reduce_associative,
    tree_structure as structure,
    tree_transpose as transpose,
    tree_unflatten as unflatten,
)
import dataclasses


def static(**kwargs):
    """A dataclasses.field marked static (node data) for tree_util.register_dataclass."""
    metadata = {**(kwargs.pop('metadata', None) or {}), 'static': True}
    return dataclasses.field(metadata=metadata, **kwargs)
