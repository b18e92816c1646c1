"""jax.experimental: io_callback."""
from tinyjax.callback import io_callback  # noqa: F401
