"""jax.experimental: multihost_utils, shard_map (its older home)."""
from tinyjax.experimental import multihost_utils, shard_map  # noqa: F401
