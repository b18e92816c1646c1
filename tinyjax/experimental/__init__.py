"""jax.experimental: io_callback, multihost_utils, shard_map (its older home)."""
from tinyjax.callback import io_callback  # noqa: F401
from tinyjax.experimental import multihost_utils, shard_map  # noqa: F401
