"""jax.extend: the names libraries that extend JAX use (`jax.extend.core`)."""
from tinyjax.extend import core  # noqa: F401
