"""`Array.sharding` for an array that lives on one device: its SingleDeviceSharding, as
in JAX. GlobalArray (arrays.py) defines its own; installed here rather than in
core/array.py so the core does not depend on the sharding API."""
from tinyjax.core.array import ArrayImpl
from tinyjax.sharding.arrays import Shard
from tinyjax.sharding.specs import SingleDeviceSharding


def _array_sharding(x):
    devices = x.devices()
    if len(devices) != 1:
        # A pmap result spans several devices; its layout is not a single-device one.
        raise AttributeError(
            f'this pmap result spans {len(devices)} devices and has no .sharding; lay arrays '
            'out over devices with device_put(x, NamedSharding(mesh, spec)) instead')
    return SingleDeviceSharding(x.device)


ArrayImpl.sharding = property(_array_sharding)


def _addressable_shards(x):
    """One shard: the whole array on its device."""
    return [Shard(x.device, (slice(None),) * x.ndim, 0, x)]


ArrayImpl.addressable_shards = property(_addressable_shards)
ArrayImpl.is_fully_replicated = property(lambda x: _array_sharding(x).is_fully_replicated)
ArrayImpl.is_fully_addressable = property(lambda x: True)
