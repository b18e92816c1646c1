"""The CUDA backend: buffers are CuPy arrays on one GPU.

CuPy is imported only when a GPU is asked for, so the package imports everywhere.
"""
import functools


@functools.lru_cache(None)
def cupy_or_none():
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:
        pass
    return None


def gpu_count():
    cp = cupy_or_none()
    return cp.cuda.runtime.getDeviceCount() if cp is not None else 0


class CudaDevice:
    platform = 'gpu'

    def __init__(self, id=0):
        import cupy
        self.id = id
        self.xp = cupy
        self._dev = cupy.cuda.Device(id)
        props = cupy.cuda.runtime.getDeviceProperties(id)
        name = props['name']
        self.device_kind = name.decode() if isinstance(name, bytes) else name
        self.compute_capability = f"{props['major']}{props['minor']}"

    def put(self, value):
        with self._dev:
            return self.xp.array(value, copy=True, order='C')

    def to_numpy(self, buf):
        with self._dev:
            return self.xp.asnumpy(buf)

    def accept(self, arr):
        if arr.device is self:
            return arr._buf
        with self._dev:
            if arr.device.platform == 'gpu':
                return self.xp.asarray(arr._buf)     # peer copy
            return self.xp.asarray(arr.device.to_numpy(arr._buf))

    def common(self, other):
        return self

    def import_buffer(self, obj):
        """Wrap another library's GPU array without a copy."""
        with self._dev:
            if hasattr(obj, '__cuda_array_interface__'):
                return self.xp.asarray(obj)
            return self.xp.from_dlpack(obj)

    def synchronize(self):
        with self._dev:
            self.xp.cuda.get_current_stream().synchronize()

    def __repr__(self):
        return f'CudaDevice(id={self.id})'
