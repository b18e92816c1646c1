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
        self.arch = f'sm_{self.compute_capability}'
        self.sm_count = int(props.get('multiProcessorCount', 132))
        self._modules = []    # loaded modules stay alive as long as the device

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

    # -- what compiled programs use (tinyjax/compiler/program.py) ----------------------
    def empty(self, nbytes):
        with self._dev:
            return self.xp.empty(max(int(nbytes), 1), self.xp.uint8)

    def load_kernels(self, source, names):
        """NVRTC-compile `source` to a cubin for this GPU's arch, load it, get the kernels."""
        from tinyjax.compiler import nvrtc
        cubin = nvrtc.compile_cubin(source, self.arch)
        with self._dev:
            module = self.xp.cuda.function.Module()
            module.load(cubin)
            self._modules.append(module)
            return {n: module.get_function(n) for n in names}

    def launch(self, fn, grid, block, args):
        # args: CuPy arrays and NumPy scalars of the kernel's exact C types; tuples for
        # grid and block, as cupy.cuda.function.Function wants.
        with self._dev:
            fn(tuple(grid), tuple(block), tuple(args))

    def __repr__(self):
        return f'CudaDevice(id={self.id})'
