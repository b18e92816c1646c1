"""`cupy.cuda` of the emulated GPUs: devices, streams, events, memory, modules.

What a GPU runtime does that has a host meaning is done; the rest follows CUDA's and
CuPy's documented semantics:
- devices report an H100 or H200's properties (`TINYJAX_EMULATED_GPU=H100|H200`, default
  H200); `TINYJAX_EMULATED_GPUS=N` of them (default 1). `with Device(i)` makes one
  current for the calling thread, as CUDA's current context is per thread.
- streams run their work at once, in order, so a stream is always idle: `record`,
  `wait_event`, `synchronize` keep the bookkeeping (an event waited on must have been
  recorded) and `get_elapsed_time` reads the host clock between two events.
- a module is loaded on the current device, its functions launch only while that device
  is current (CUDA: a module belongs to its context); a launch checks the grid, the
  block and every argument against the kernel's C signature, then runs it through
  `launch.run_kernel`.
"""
import threading
import time
import weakref

import numpy as np

from tinyjax.backends.emulated import launch, memory
from tinyjax.backends.emulated.arrays import ndarray

GPUS = {
    'H200': {'name': b'NVIDIA H200', 'totalGlobalMem': 150_109_880_320, 'memoryClockRate': 2_619_000,
             'memoryBusWidth': 6144},
    'H100': {'name': b'NVIDIA H100 80GB HBM3', 'totalGlobalMem': 85_045_460_992,
             'memoryClockRate': 2_619_000, 'memoryBusWidth': 5120},
}
# sm_90 limits (CUDA C Programming Guide, compute capability 9.0), 132 SMs on both boards.
SM90 = {'major': 9, 'minor': 0, 'multiProcessorCount': 132, 'warpSize': 32,
        'maxThreadsPerBlock': 1024, 'maxThreadsDim': (1024, 1024, 64),
        'maxGridSize': (2 ** 31 - 1, 65535, 65535), 'sharedMemPerBlock': 49152,
        'sharedMemPerBlockOptin': 232448, 'sharedMemPerMultiprocessor': 233472,
        'regsPerBlock': 65536, 'regsPerMultiprocessor': 65536,
        'maxThreadsPerMultiProcessor': 2048, 'maxBlocksPerMultiProcessor': 32,
        'clockRate': 1_980_000, 'l2CacheSize': 52_428_800, 'concurrentKernels': 1,
        'unifiedAddressing': 1, 'pciBusID': 0, 'integrated': 0, 'ECCEnabled': 1}
DRIVER_VERSION, RUNTIME_VERSION = 13000, 13000


def gpu_count():
    import os
    return int(os.environ.get('TINYJAX_EMULATED_GPUS', '1') or 1)


def board():
    import os
    name = os.environ.get('TINYJAX_EMULATED_GPU', 'H200').upper()
    if name not in GPUS:
        raise RuntimeError(f'TINYJAX_EMULATED_GPU={name!r}: the emulated boards are '
                           f'{", ".join(GPUS)}')
    return name


def _check_device(i):
    if not 0 <= int(i) < gpu_count():
        raise RuntimeError(f'cudaErrorInvalidDevice: emulated GPU {i} does not exist '
                           f'({gpu_count()} emulated; TINYJAX_EMULATED_GPUS sets the count)')
    return int(i)


class runtime:
    """The subset of cupy.cuda.runtime that tinyjax and its benches call."""
    memcpyHostToHost, memcpyHostToDevice, memcpyDeviceToHost, memcpyDeviceToDevice = 0, 1, 2, 3
    memcpyDefault = 4

    @staticmethod
    def getDeviceCount():
        return gpu_count()

    @staticmethod
    def getDeviceProperties(i):
        _check_device(i)
        props = dict(SM90, **GPUS[board()])
        props['pciDeviceID'] = int(i)
        return props

    @staticmethod
    def getDevice():
        return memory.current_device()

    @staticmethod
    def setDevice(i):
        memory.set_current_device(_check_device(i))

    @staticmethod
    def driverGetVersion():
        return DRIVER_VERSION

    @staticmethod
    def runtimeGetVersion():
        return RUNTIME_VERSION

    @staticmethod
    def deviceSynchronize():
        pass

    @staticmethod
    def memGetInfo():
        total = GPUS[board()]['totalGlobalMem']
        return total - memory.used_bytes[0], total

    @staticmethod
    def memcpyAsync(dst, src, size, kind, stream):
        memory.memmove(dst, src, size, 'cudaMemcpyAsync')

    @staticmethod
    def memcpy(dst, src, size, kind):
        memory.memmove(dst, src, size, 'cudaMemcpy')

    @staticmethod
    def deviceCanAccessPeer(i, j):
        return 1


class Device:
    """An emulated GPU; `with Device(i):` makes it current for this thread."""

    def __init__(self, device=None):
        self.id = memory.current_device() if device is None else _check_device(device)
        self._saved = []

    def __enter__(self):
        self._saved.append(memory.current_device())
        memory.set_current_device(self.id)
        return self

    def __exit__(self, *exc):
        memory.set_current_device(self._saved.pop())
        return False

    def use(self):
        memory.set_current_device(self.id)

    def synchronize(self):
        pass

    @property
    def compute_capability(self):
        return '90'

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f'<CUDA Device {self.id} (emulated {board()})>'


_stream_ids = iter(range(0x1000, 1 << 40, 0x100))
streams_by_ptr = weakref.WeakValueDictionary()     # for the libraries, which get .ptr
_streams = threading.local()


class Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.recorded_at, self.device = None, memory.current_device()

    def record(self, stream=None):
        self.recorded_at = time.perf_counter()

    def synchronize(self):
        pass

    @property
    def done(self):
        return True


class Stream:
    """A stream; work on it runs when queued, so it is always idle."""
    null = None     # set below

    def __init__(self, null=False, non_blocking=False, ptr=None):
        self.null, self.non_blocking = null, non_blocking
        self.ptr = 0 if null else next(_stream_ids)
        self.device_id = memory.current_device()
        if not null:
            streams_by_ptr[self.ptr] = self
        self._saved, self._captured = [], None

    def begin_capture(self, mode=None):
        """Kernel launches on this stream are recorded, not run, until end_capture."""
        self._captured = []

    def end_capture(self):
        graph, self._captured = Graph(self._captured), None
        return graph

    def is_capturing(self):
        return self._captured is not None

    def __enter__(self):
        self._saved.append(get_current_stream())
        _streams.current = self
        return self

    def __exit__(self, *exc):
        _streams.current = self._saved.pop()
        return False

    def use(self):
        _streams.current = self
        return self

    def record(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def wait_event(self, event):
        if event.recorded_at is None:
            raise RuntimeError('Stream.wait_event: the event was never recorded (on a GPU '
                               'the wait would be a no-op and the order it promises lost)')

    def synchronize(self):
        pass

    def add_callback(self, callback, arg):
        callback(self, None, arg)

    @property
    def done(self):
        return True

    def __eq__(self, other):
        return isinstance(other, Stream) and other.ptr == self.ptr

    def __hash__(self):
        return hash(self.ptr)

    def __repr__(self):
        return f'<Stream {self.ptr:#x} (emulated, device {self.device_id})>'


Stream.null = Stream(null=True)


class Graph:
    """A captured sequence of launches; `launch` replays it in order."""

    def __init__(self, launches):
        self.launches = launches

    def launch(self, stream=None):
        for run in self.launches:
            run()

    def upload(self, stream=None):
        pass


def get_current_stream(device_id=None):
    return getattr(_streams, 'current', None) or Stream.null


def check_stream(ptr, device, what):
    """A stream handle used on `device` must be one of that device's (or the legacy one)."""
    stream = streams_by_ptr.get(int(ptr)) if ptr else None
    if ptr and stream is None:
        raise RuntimeError(f'{what}: unknown stream handle {ptr:#x}')
    if stream is not None and stream.device_id != device:
        raise RuntimeError(f'{what}: cudaErrorInvalidResourceHandle: the stream belongs to '
                           f'GPU {stream.device_id}, the call runs on GPU {device}')


def get_elapsed_time(start, end):
    if start.recorded_at is None or end.recorded_at is None:
        raise RuntimeError('get_elapsed_time: both events must have been recorded')
    return (end.recorded_at - start.recorded_at) * 1e3


class MemoryPointer:
    """A device address (`.ptr`) on a device, with CuPy's copy methods."""

    def __init__(self, ptr, device_id):
        self.ptr, self.device_id = ptr, device_id

    def __int__(self):
        return self.ptr

    def __add__(self, offset):
        return MemoryPointer(self.ptr + offset, self.device_id)

    def copy_from_device_async(self, src, size, stream=None):
        memory.memmove(self.ptr, src.ptr, size, 'MemoryPointer.copy_from_device_async')

    copy_from_device = copy_from_device_async

    def copy_from_host(self, mem, size):
        dst = memory.view(self.ptr, size, np.uint8, 'MemoryPointer.copy_from_host')
        import ctypes
        ctypes.memmove(dst.__array_interface__['data'][0], mem.value if hasattr(mem, 'value')
                       else int(mem), size)

    def memset_async(self, value, size, stream=None):
        memory.view(self.ptr, size, np.uint8, 'MemoryPointer.memset_async')[...] = value


def from_cuda_array_interface(obj):
    """A zero-copy emulated array over another object's device memory."""
    cai = obj.__cuda_array_interface__
    dtype, shape = np.dtype(cai['typestr']), tuple(cai['shape'])
    ptr = cai['data'][0]
    count = int(np.prod(shape)) if shape else 1
    strides = cai.get('strides')
    span = count if strides is None else (
        1 + sum((n - 1) * s // dtype.itemsize for n, s in zip(shape, strides))) if count else 0
    owner, offset, dev = memory.find(ptr, span * dtype.itemsize, '__cuda_array_interface__')
    flat = owner.reshape(-1).view(np.uint8)
    a = np.ndarray(shape, dtype, buffer=flat, offset=offset, strides=strides)
    return ndarray(a, dev)


class MemoryPool:
    """CuPy's pool interface over the allocation registry (the host allocator pools)."""

    def used_bytes(self):
        return memory.used_bytes[0]

    def total_bytes(self):
        return memory.used_bytes[0]

    def free_all_blocks(self, stream=None):
        pass

    def set_limit(self, size=None, fraction=None):
        pass


_pool = MemoryPool()


def get_default_memory_pool():
    return _pool


class Module:
    """A loaded cubin: the emulated driver maps it back to the source NVRTC compiled it
    from (launch.source_of), and its kernels run on the device current at load."""

    def __init__(self):
        self.source, self.device_id = None, None

    def load(self, cubin):
        self.source = launch.source_of(cubin)
        self.device_id = memory.current_device()
        self.names = launch.kernel_names(self.source)

    def load_file(self, path):
        with open(path, 'rb') as f:
            self.load(f.read())

    def get_function(self, name):
        if self.source is None:
            raise RuntimeError('cuModuleGetFunction: the module is not loaded')
        if name not in self.names:
            raise RuntimeError(f'cuModuleGetFunction: CUDA_ERROR_NOT_FOUND: no kernel {name!r} '
                               f'in the module (it has {", ".join(sorted(self.names))})')
        return Function(self, name)


class Function:
    def __init__(self, module, name):
        self.module, self.name = module, name
        self.params = launch.kernel_params(module.source, name)

    def __call__(self, grid, block, args, shared_mem=0, stream=None, enable_cooperative_groups=False):
        here = memory.current_device()
        if here != self.module.device_id:
            raise RuntimeError(
                f'cuLaunchKernel({self.name}): CUDA_ERROR_INVALID_HANDLE: the module was '
                f'loaded on GPU {self.module.device_id} but GPU {here} is current')
        if stream is not None and not isinstance(stream, Stream):
            raise TypeError(f'{self.name}: stream must be a cupy.cuda.Stream, not {type(stream)}')
        check_stream(stream.ptr if stream is not None else 0, here, f'cuLaunchKernel({self.name})')
        pointers, scalars = launch.check_launch(self.name, self.params, grid, block, args,
                                                here, SM90)
        def run():
            launch.run_kernel(self.module.source, self.name, tuple(grid), tuple(block),
                              pointers, scalars)
        if stream is not None and stream.is_capturing():
            stream._captured.append(run)
        else:
            run()


def get_cublas_handle():
    from tinyjax.backends.emulated import libs
    return libs.handle_for(memory.current_device())


def get_compute_capability():
    return '90'
