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
from tinyjax.backends.emulated import launch, libs, memory
from tinyjax.backends.emulated.devices import (DRIVER_VERSION, GPUS, RUNTIME_VERSION, SM90, Stream,
                                               board, check_device, check_stream, gpu_count)


class runtime:
    """The subset of cupy.cuda.runtime that tinyjax and its benches call."""
    memcpyHostToHost, memcpyHostToDevice, memcpyDeviceToHost, memcpyDeviceToDevice = 0, 1, 2, 3
    memcpyDefault = 4

    @staticmethod
    def getDeviceCount():
        return gpu_count()

    @staticmethod
    def getDeviceProperties(i):
        check_device(i)
        props = dict(SM90, **GPUS[board()])
        props['pciDeviceID'] = int(i)
        return props

    @staticmethod
    def getDevice():
        return memory.current_device()

    @staticmethod
    def setDevice(i):
        memory.set_current_device(check_device(i))

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
    return libs.handle_for(memory.current_device())


def get_compute_capability():
    return '90'
