"""jax.experimental.shard_map.shard_map: shard_map's older import path."""
from tinyjax.transforms.shard_map import shard_map  # noqa: F401
