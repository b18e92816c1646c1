"""`tinyjax.tree`: the short names of `jax.tree` (`tree.map`, `tree.leaves`, ...)."""
from tinyjax.tree_util import (  # noqa: F401
    tree_all as all,
    tree_flatten as flatten,
    tree_leaves as leaves,
    tree_map as map,
    tree_reduce as reduce,
    tree_structure as structure,
    tree_transpose as transpose,
    tree_unflatten as unflatten,
)
