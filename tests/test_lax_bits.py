"""lax.clz and lax.population_count against values recorded from JAX 0.10.2."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax

# dtype: (inputs, clz, population_count), recorded with jax_enable_x64 on.
RECORDED = {
    'int8': ([0, 1, 2, 3, 7, 100, 127, -1, -128], [8, 7, 6, 6, 5, 1, 1, 0, 0],
             [0, 1, 1, 2, 3, 3, 7, 8, 1]),
    'uint8': ([0, 1, 2, 3, 7, 100, 127, 255], [8, 7, 6, 6, 5, 1, 1, 0], [0, 1, 1, 2, 3, 3, 7, 8]),
    'int16': ([0, 1, 100, -1, -128, 32767, -32768], [16, 15, 9, 0, 0, 1, 0],
              [0, 1, 3, 16, 9, 15, 1]),
    'uint16': ([0, 1, 127, 65535], [16, 15, 9, 0], [0, 1, 7, 16]),
    'int32': ([0, 1, 2, 3, 7, 100, 127, -1, -128, 1048581, 2147483647, -2147483648],
              [32, 31, 30, 30, 29, 25, 25, 0, 0, 11, 1, 0],
              [0, 1, 1, 2, 3, 3, 7, 32, 25, 3, 31, 1]),
    'uint32': ([0, 1, 127, 1048581, 4294967295], [32, 31, 25, 11, 0], [0, 1, 7, 3, 32]),
    'int64': ([0, 1, -1, -128, 1048581, 9223372036854775807, -9223372036854775808],
              [64, 63, 0, 0, 43, 1, 0], [0, 1, 64, 57, 3, 63, 1]),
    'uint64': ([0, 1, 1048581, 18446744073709551615], [64, 63, 43, 0], [0, 1, 3, 64]),
}


@pytest.fixture
def x64():
    jax.config.update('jax_enable_x64', True)
    yield
    jax.config.update('jax_enable_x64', False)


@pytest.mark.parametrize('dtype', sorted(RECORDED))
def test_clz_and_population_count(dtype, x64):
    values, clz, pop = RECORDED[dtype]
    x = jnp.asarray(np.array(values, dtype))
    for f, want in ((lax.clz, clz), (lax.population_count, pop)):
        for g in (f, jax.jit(f)):
            out = g(x)
            assert out.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(np.asarray(out), np.array(want, dtype))


def test_fused_with_other_integer_ops():
    x = np.arange(-300, 300, 7, dtype=np.int32)
    out = jax.jit(lambda v: lax.clz(v * 3) + lax.population_count(v ^ 5))(x)
    ref = [bin(int(np.uint32(a * 3))).count('1') * 0 + (32 - int(np.uint32(a * 3)).bit_length())
           + bin(int(np.uint32(a ^ 5))).count('1') for a in x]
    np.testing.assert_array_equal(np.asarray(out), ref)


def test_bool_and_float_are_refused():
    with pytest.raises(TypeError, match='clz does not accept dtype bool.*astype\\(jnp.int32\\)'):
        lax.clz(jnp.array([True]))
    with pytest.raises(TypeError, match='population_count does not accept dtype float32'):
        lax.population_count(jnp.ones(2))
