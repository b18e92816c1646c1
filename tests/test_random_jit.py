"""Random numbers under jit: threefry2x32 fuses with the arithmetic that makes floats."""
import numpy as np

import tinyjax as jax
from tinyjax import random


def test_normal_is_one_kernel_and_matches_eager():
    key = random.PRNGKey(0)
    f = jax.jit(lambda k: random.normal(k, (1 << 20,)))
    kernels = f.lower(key).compile().kernels
    assert len(kernels) == 1
    k = kernels[0]
    assert 'threefry2x32' in k['prims'] and k['bytes_read'] == 8 and k['bytes_written'] == 4 << 20
    got, want = np.asarray(f(key)), np.asarray(random.normal(key, (1 << 20,)))
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
    assert abs(got.mean()) < 5e-3 and abs(got.std() - 1) < 5e-3


def test_uniform_bits_and_split_fuse_bit_exact():
    key = random.PRNGKey(42)
    for fn in (lambda k: random.uniform(k, (1000,)), lambda k: random.bits(k, (7, 3)),
               lambda k: random.split(k, 5), lambda k: random.randint(k, (50,), 0, 10)):
        np.testing.assert_array_equal(np.asarray(jax.jit(fn)(key)), np.asarray(fn(key)))
    assert len(jax.jit(lambda k: random.uniform(k, (1000,))).lower(key).compile().kernels) == 1


def test_seed_program_under_pmap_matches_per_key():
    jax.config.update('jax_num_cpu_devices', 8)
    try:
        keys = random.split(random.PRNGKey(0), 8)
        out = jax.pmap(lambda key: random.normal(key, (50, 60)))(keys)
        for i in range(8):
            np.testing.assert_allclose(np.asarray(out[i]), np.asarray(random.normal(keys[i], (50, 60))),
                                       rtol=2e-6, atol=2e-6)
    finally:
        jax.config.update('jax_num_cpu_devices', 1)
