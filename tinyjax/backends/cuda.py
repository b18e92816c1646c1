"""The CUDA backend: buffers are CuPy arrays on one GPU, work queued on the device's stream.

CuPy is imported only when a GPU is asked for, so the package imports everywhere.

Each device owns one stream. Everything a device does (eager ops, compiled programs,
transfers, NCCL calls) runs with its GPU current and its stream current
(`device.context()`), so the work of different devices overlaps: pmap queues device 0's
program, then device 1's, and the GPUs run them at the same time. Several logical
devices may share one GPU (`TINYJAX_NUM_GPU_DEVICES`); each still has its own stream and
buffers, which is what lets one GPU stand in for eight in tests.
"""
import functools

from tinyjax.backends import cubin


@functools.lru_cache(None)
def cupy_or_none():
    try:
        import cupy  # lazy: CuPy is optional (GPU only)
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:
        pass
    return None


def gpu_count():
    cp = cupy_or_none()
    return cp.cuda.runtime.getDeviceCount() if cp is not None else 0


def c_order(xp, b):
    """b as a C-contiguous array, keeping 0-d arrays 0-d (xp.ascontiguousarray makes them 1-d)."""
    b = xp.asarray(b)
    return b if b.flags.c_contiguous else b.copy(order='C')


class _DeviceContext:
    """Makes a device's GPU and stream current; cheap enough to enter on every op."""
    __slots__ = ('dev', 'stream')

    def __init__(self, dev, stream):
        self.dev, self.stream = dev, stream

    def __enter__(self):
        self.dev.__enter__()
        self.stream.__enter__()
        return self

    def __exit__(self, *exc):
        self.stream.__exit__(*exc)
        self.dev.__exit__(*exc)
        return False


class CudaDevice:
    platform = 'gpu'

    def __init__(self, id=0, physical_id=None, process_index=0):
        import cupy  # lazy: CuPy is optional (GPU only)
        self.id = id
        self.physical_id = id if physical_id is None else physical_id
        self.process_index = process_index
        self.xp = cupy
        self._dev = cupy.cuda.Device(self.physical_id)
        with self._dev:
            # A blocking stream (not non_blocking) still orders after work a user queued
            # on the legacy default stream (e.g. a CuPy array handed to us), while the
            # streams of different devices run concurrently with each other.
            self.stream = cupy.cuda.Stream(non_blocking=False)
        self._context = _DeviceContext(self._dev, self.stream)
        props = cupy.cuda.runtime.getDeviceProperties(self.physical_id)
        name = props['name']
        self.device_kind = name.decode() if isinstance(name, bytes) else name
        self.compute_capability = f"{props['major']}{props['minor']}"
        self.arch = f'sm_{self.compute_capability}'
        self.sm_count = int(props.get('multiProcessorCount', 132))
        self._modules = []    # loaded modules stay alive as long as the device

    def context(self):
        return self._context

    def put(self, value):
        with self._context:
            return self.xp.array(value, copy=True, order='C')

    def to_numpy(self, buf):
        with self._context:
            return buf.get(stream=self.stream)     # waits for this stream's work first

    def accept(self, arr):
        src = arr.device
        if src is self:
            return arr._buf
        if src.platform != 'gpu':
            with self._context:
                return self.xp.asarray(src.to_numpy(arr._buf))
        return self._copy_from(src, arr._buf)

    def _copy_from(self, src, buf):
        """Device-to-device copy on this stream, ordered after src's work on the buffer.

        The source stream then waits for the copy, so src cannot reuse the buffer's
        memory (CuPy's pool is stream-ordered) while the copy still reads it.
        """
        xp = self.xp
        with src._context:
            buf = c_order(xp, buf)
            ready = src.stream.record()
        with self._context:
            out = xp.empty(buf.shape, buf.dtype)
            self.stream.wait_event(ready)
            if buf.nbytes:
                out.data.copy_from_device_async(buf.data, buf.nbytes, self.stream)
            done = self.stream.record()
        with src._context:
            src.stream.wait_event(done)
        return out

    def common(self, other):
        return self

    def import_buffer(self, obj):
        """Wrap another library's GPU array without a copy."""
        with self._context:
            if hasattr(obj, '__cuda_array_interface__'):
                return self.xp.asarray(obj)
            return self.xp.from_dlpack(obj)

    def synchronize(self):
        self.stream.synchronize()

    # -- what compiled programs use (tinyjax/compiler/program.py) ----------------------
    def empty(self, nbytes):
        with self._context:
            return self.xp.empty(max(int(nbytes), 1), self.xp.uint8)

    def load_module(self, module):
        """Load a built cubin on this GPU: {name: kernel function}."""
        cubin, names = module
        with self._dev:
            module = self.xp.cuda.function.Module()
            module.load(cubin)
            self._modules.append(module)
            return {n: module.get_function(n) for n in names}

    def kernel_registers(self, module):
        """{kernel name: registers per thread} of a built module, read from its cubin."""
        return cubin.register_counts(module[0])

    def launch(self, fn, grid, block, args):
        # args: CuPy arrays and NumPy scalars of the kernel's exact C types; tuples for
        # grid and block, as cupy.cuda.function.Function wants.
        with self._context:
            fn(tuple(grid), tuple(block), tuple(args), stream=self.stream)

    def kernel_caller(self, fn, grid, block, scalars, work=0):
        """A launcher for a compiled Program's step: called with the step's buffers,
        inside the Program's `context()`, on this device's stream (`work` is for the
        host's threads)."""
        grid, block, scalars, stream = tuple(grid), tuple(block), tuple(scalars), self.stream

        def call(bufs):
            fn(grid, block, (*bufs, *scalars), stream=stream)
        return call

    def __repr__(self):
        if self.physical_id != self.id:
            return f'CudaDevice(id={self.id}, gpu={self.physical_id})'
        return f'CudaDevice(id={self.id})'

    def __str__(self):
        return f'cuda:{self.id}'
