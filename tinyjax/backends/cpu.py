"""The CPU backend: buffers are NumPy arrays."""
import contextlib
import ctypes
import functools
import itertools
import os

import numpy as np
from tinyjax.compiler import hostcc

# One shared, reusable no-op context: eager ops enter `device.context()` on every call,
# so on the CPU it must cost nothing.
_NO_CONTEXT = contextlib.nullcontext()


@functools.lru_cache(None)
def keep_freed_memory():
    """Ask glibc to keep large freed blocks instead of unmapping them.

    By default glibc serves blocks over its mmap threshold with fresh mmaps and returns
    them on free, so every call of a compiled program page-faults its large temporaries
    afresh: measured here, jit(vmap(grad)) of an MLP ran 4x slower than with reuse.
    GPU buffers come from CuPy's pool and are unaffected. TINYJAX_MALLOPT=0 turns it off.
    """
    if os.environ.get('TINYJAX_MALLOPT', '1') == '0':
        return False
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return False                      # not glibc: nothing to tune
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    limit = 1 << 30
    return bool(libc.mallopt(M_MMAP_THRESHOLD, limit)) and bool(libc.mallopt(M_TRIM_THRESHOLD, limit))


# A launch below this many elements of work runs on one host thread: waking the pool's
# threads costs more than they save.
MIN_THREAD_WORK = 1 << 16
# A split launch runs this many host blocks per thread, each taken by whichever thread is
# free: a thread that wakes late or loses its core to another process (a shared VM)
# leaves its blocks to the others instead of making the launch wait for it.
BLOCKS_PER_THREAD = 8


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:             # not Linux
        return os.cpu_count() or 1


def host_threads(work, blocks):
    """Host threads for a launch touching `work` elements in `blocks` GPU blocks: one below
    MIN_THREAD_WORK, else one per usable CPU, at most one per block.
    TINYJAX_HOST_THREADS=N runs every launch on N threads (testing, tuning)."""
    forced = os.environ.get('TINYJAX_HOST_THREADS')
    if forced:
        return max(1, int(forced))
    if work < MIN_THREAD_WORK:
        return 1
    return max(1, min(usable_cpus(), blocks))


class CpuDevice:
    platform = 'cpu'
    device_kind = 'cpu'
    xp = np
    stream = None

    def __init__(self, id=0, process_index=0):
        keep_freed_memory()
        self.id = id
        self.process_index = process_index

    def context(self):
        """What eager ops and programs run under (a GPU makes its device and stream current)."""
        return _NO_CONTEXT

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

    # -- what compiled programs use (tinyjax/compiler/program.py) ----------------------
    def empty(self, nbytes):
        """Raw memory for a buffer slot; views of it hold kernel outputs."""
        return np.empty(max(int(nbytes), 1), np.uint8)

    @staticmethod
    def load_module(module):
        """{name: (function, address of its uniform wrapper)} for a built module."""
        lib, names = module
        return {n: (getattr(lib, n), ctypes.cast(getattr(lib, 'tjw_' + n), ctypes.c_void_p).value)
                for n in names}

    @staticmethod
    def kernel_caller(fn, grid, block, scalars, work=0):
        """A launcher for a compiled Program's step, called with the step's arrays. `work`
        (elements the launch touches) picks its host threads (`host_threads`), which share
        BLOCKS_PER_THREAD host blocks each, a block being a contiguous share of the
        grid-stride loops. The ctypes fallback runs one block on the calling thread."""
        function, wrapper = fn
        ints = tuple(int(x) for x in scalars)
        threads = host_threads(work, grid[0])
        blocks = threads * BLOCKS_PER_THREAD if threads > 1 else 1
        # Kernel scalars are NumPy scalars of the parameter's exact C type.
        tail = [ctypes.c_int(int(x)) if x.dtype == np.int32 else ctypes.c_longlong(int(x))
                for x in scalars]
        slot, without = hostcc.launch_slot, launcher_counter()

        def call(bufs):
            launch = slot[0]
            if launch is not None:
                return launch(wrapper, bufs, ints, threads, blocks)
            without()
            function(*[ctypes.c_void_p(b.ctypes.data) for b in bufs], *tail)
        return call

    def __repr__(self):
        return f'CpuDevice(id={self.id})'

    def __str__(self):
        return f'cpu:{self.id}'


def launcher_counter():
    """For a caller that runs without the host launcher until it is loaded (a kernel
    through ctypes, a sliced product as NumPy calls): loads a cached build now, else
    schedules one for exit, and returns the function to call on each call made without
    it, whose 50th call (a loop) starts the build in the background."""
    hostcc.launcher(start=False)
    count = itertools.count(1)
    return lambda: next(count) == 50 and hostcc.launcher()
