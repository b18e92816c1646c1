"""tinyjax.sharding: how an array is laid out over devices. Only the single-device case
exists so far: every array that lives on one device reports a SingleDeviceSharding
(`x.sharding`), as in JAX. Meshes and named shardings are a separate piece of work."""
from tinyjax.core.array import ArrayImpl


class Sharding:
    """What shardings share; a subclass defines device_set."""

    @property
    def num_devices(self):
        return len(self.device_set)

    @property
    def addressable_devices(self):
        return set(self.device_set)


class SingleDeviceSharding(Sharding):
    """All of an array on one device: one shard, the whole array, fully replicated."""

    def __init__(self, device, *, memory_kind=None):
        self._device = device
        self._memory_kind = memory_kind

    @property
    def device_set(self):
        return {self._device}

    @property
    def _device_assignment(self):
        return (self._device,)

    @property
    def memory_kind(self):
        # JAX names a device's own memory 'device' (on the CPU as well).
        return self._memory_kind or 'device'

    @property
    def is_fully_replicated(self):
        return True

    @property
    def is_fully_addressable(self):
        return True

    def devices_indices_map(self, global_shape):
        return {self._device: (slice(None),) * len(global_shape)}

    def addressable_devices_indices_map(self, global_shape):
        return self.devices_indices_map(global_shape)

    def shard_shape(self, global_shape):
        return tuple(global_shape)

    def is_equivalent_to(self, other, ndim):
        return isinstance(other, Sharding) and other.device_set == self.device_set and \
            getattr(other, 'is_fully_replicated', False)

    def with_memory_kind(self, kind):
        return SingleDeviceSharding(self._device, memory_kind=kind)

    def __eq__(self, other):
        return isinstance(other, SingleDeviceSharding) and other._device == self._device \
            and other.memory_kind == self.memory_kind

    def __hash__(self):
        return hash((SingleDeviceSharding, self._device, self.memory_kind))

    def __repr__(self):
        return f'SingleDeviceSharding(device={self._device!r}, memory_kind={self.memory_kind})'


def _array_sharding(x):
    devices = x.devices()
    if len(devices) != 1:
        # A pmap result spans several devices: it has no single-device sharding, and
        # tinyjax has no multi-device sharding objects yet.
        raise AttributeError(
            f'this array spans {len(devices)} devices; .sharding describes only arrays on '
            'one device so far (gather it with tinyjax.device_put(x, device) first)')
    return SingleDeviceSharding(x.device)


# Installed here (not in core/array.py) so the core does not depend on the sharding API.
ArrayImpl.sharding = property(_array_sharding)
