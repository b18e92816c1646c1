"""Array.sharding for single-device arrays and ShapeDtypeStruct.like, against what
JAX 0.10.2 reports (values written down from JAX on the CPU)."""
import numpy as np

import tinyjax
import tinyjax.numpy as jnp
from tinyjax.sharding import SingleDeviceSharding


def test_single_device_sharding_matches_jax():
    x = jnp.ones((2, 3))
    s = x.sharding
    dev = tinyjax.devices()[0]
    assert isinstance(s, SingleDeviceSharding)
    assert s.device_set == {dev} and s.addressable_devices == {dev}
    assert s.is_fully_replicated and s.is_fully_addressable and s.num_devices == 1
    assert s.memory_kind == 'device'
    assert s.devices_indices_map((2, 3)) == {dev: (slice(None), slice(None))}
    assert s.shard_shape((2, 3)) == (2, 3)
    assert s == SingleDeviceSharding(dev) and hash(s) == hash(SingleDeviceSharding(dev))
    assert s != SingleDeviceSharding(dev, memory_kind='pinned_host')
    assert not hasattr(s, 'mesh')
    assert repr(s) == f'SingleDeviceSharding(device={dev!r}, memory_kind=device)'
    # A jit output and a device_put array report theirs too.
    assert tinyjax.jit(lambda v: v * 2)(x).sharding == s
    assert tinyjax.device_put(np.arange(3), dev).sharding.device_set == {dev}


def test_shape_dtype_struct_like_matches_jax():
    like = tinyjax.ShapeDtypeStruct.like
    assert repr(like(jnp.ones((2, 3)))) == 'ShapeDtypeStruct(shape=(2, 3), dtype=float32)'
    assert repr(like(3.0)) == 'ShapeDtypeStruct(shape=(), dtype=float32, weak_type=True)'
    assert repr(like(np.ones(2, np.int64))) == 'ShapeDtypeStruct(shape=(2,), dtype=int32)'
    assert like(tinyjax.ShapeDtypeStruct((2,), jnp.int32)) == tinyjax.ShapeDtypeStruct((2,), jnp.int32)
    # Usable wherever a ShapeDtypeStruct is: eval_shape of a traced value's spec.
    out = tinyjax.eval_shape(lambda v: v.sum(0), like(jnp.ones((4, 5))))
    assert out.shape == (5,) and out.dtype == np.float32
