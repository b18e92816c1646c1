"""tinyjax.install_as_jax(): `import jax...` gives tinyjax's modules (the same objects),
an absent module fails as an absent module does, and a real jax already imported is an
error. The `as_jax` fixture (conftest) undoes the installation afterwards."""
import sys
import types

import pytest

import tinyjax


def test_jax_names_are_tinyjax_modules(as_jax):
    import jax
    import jax.numpy as jnp
    from jax import lax
    from jax.extend import core
    from jax.flatten_util import ravel_pytree
    import jax.scipy.special
    assert jax is tinyjax and jnp is tinyjax.numpy and lax is tinyjax.lax
    assert core is tinyjax.extend.core and jax.scipy.special is tinyjax.scipy.special
    assert sys.modules['jax.numpy'] is tinyjax.numpy
    flat, unravel = ravel_pytree({'a': jnp.ones((2, 2)), 'b': jnp.arange(3, dtype=jnp.int32)})
    assert flat.shape == (7,) and flat.dtype == jnp.float32
    back = unravel(flat)
    assert back['b'].dtype == jnp.int32 and back['a'].shape == (2, 2)
    with pytest.raises(ModuleNotFoundError):
        import jax.no_such_module  # noqa: F401


def test_refuses_when_real_jax_is_loaded(as_jax):
    saved = sys.modules['jax']
    sys.modules['jax'] = types.ModuleType('jax')
    try:
        with pytest.raises(RuntimeError, match='before anything imports jax'):
            tinyjax.install_as_jax()
    finally:
        sys.modules['jax'] = saved
