"""The CPU backend: buffers are NumPy arrays."""
import numpy as np


class CpuDevice:
    platform = 'cpu'
    device_kind = 'cpu'
    xp = np

    def __init__(self, id=0):
        self.id = id

    def put(self, value):
        return np.array(value, copy=True, order='C')

    def to_numpy(self, buf):
        v = buf.view()
        v.flags.writeable = False
        return v

    def accept(self, arr):
        """The buffer of `arr` on this device (copied here when it lives elsewhere)."""
        if arr.device is self:
            return arr._buf
        return np.asarray(arr.device.to_numpy(arr._buf))

    def common(self, other):
        """The device an op on arrays of self and other runs on: a GPU wins."""
        return other if other.platform != 'cpu' else self

    def import_buffer(self, obj):
        if hasattr(obj, '__dlpack__'):
            return np.from_dlpack(obj)
        return np.asarray(obj)

    def synchronize(self):
        pass

    def __repr__(self):
        return f'CpuDevice(id={self.id})'
