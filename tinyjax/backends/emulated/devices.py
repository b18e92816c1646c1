"""The emulated GPUs themselves: their boards, the current GPU and stream of a thread,
streams and events (CUDA's semantics where work runs at once, in order; see runtime.py)."""
import os
import threading
import time
import weakref

from tinyjax.backends.emulated import memory

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
    return int(os.environ.get('TINYJAX_EMULATED_GPUS', '1') or 1)


def board():
    name = os.environ.get('TINYJAX_EMULATED_GPU', 'H200').upper()
    if name not in GPUS:
        raise RuntimeError(f'TINYJAX_EMULATED_GPU={name!r}: the emulated boards are '
                           f'{", ".join(GPUS)}')
    return name


def check_device(i):
    if not 0 <= int(i) < gpu_count():
        raise RuntimeError(f'cudaErrorInvalidDevice: emulated GPU {i} does not exist '
                           f'({gpu_count()} emulated; TINYJAX_EMULATED_GPUS sets the count)')
    return int(i)


class Device:
    """An emulated GPU; `with Device(i):` makes it current for this thread."""

    def __init__(self, device=None):
        self.id = memory.current_device() if device is None else check_device(device)
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
