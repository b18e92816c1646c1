"""Device discovery: the GPU is the default backend when CuPy sees one, else the CPU.

`TINYJAX_NUM_GPU_DEVICES=N` presents the GPUs as N logical devices (round-robin over
the physical ones; one GPU can stand in for eight), each with its own stream.
After `tinyjax.distributed.initialize`, `devices()` spans every process's devices
(the other processes' as `RemoteDevice`s) and `local_devices()` is this process's.
"""
import functools
import os

from tinyjax import config as _config
from tinyjax.backends import cpu, cuda, emulated, simt
from tinyjax.core import array as _array

_ALIASES = {'cuda': 'gpu', 'gpu': 'gpu', 'cpu': 'cpu'}
_ALIASES.update({name: 'gpu' for name in emulated.PLATFORM_NAMES})


class RemoteDevice:
    """A device of another process: it appears in `devices()` but holds no local data."""

    def __init__(self, id, process_index, platform, device_kind):
        self.id, self.process_index = id, process_index
        self.platform, self.device_kind = platform, device_kind

    def _not_here(self, *args, **kwargs):
        raise RuntimeError(f'{self!r} belongs to process {self.process_index}; its data is '
                           'not addressable from this process')
    put = to_numpy = accept = synchronize = context = _not_here

    def __repr__(self):
        return f'RemoteDevice(id={self.id}, process_index={self.process_index}, {self.platform})'

    def __str__(self):
        return f"{'cuda' if self.platform == 'gpu' else self.platform}:{self.id}"


class Topology:
    """This process's place among several (set by tinyjax.distributed.initialize)."""

    def __init__(self, process_index, process_count, platform, local, global_):
        self.process_index, self.process_count = process_index, process_count
        self.platform, self.local, self.devices = platform, list(local), list(global_)
        self.client = None       # the coordinator client (backends/coordinator.py)
        self.mpi = None          # mpi4py's world communicator when MPI launched the job


_topology = None


def set_topology(t):
    global _topology
    _topology = t


def topology():
    return _topology


@functools.lru_cache(None)
def _cpu_devices(n):
    make = simt.device_factory() or cpu.CpuDevice    # TINYJAX_SIMT: kernels run on the SIMT runtime
    return tuple(make(i) for i in range(n))


def _num_logical_gpus():
    v = os.environ.get('TINYJAX_NUM_GPU_DEVICES', '').strip()
    return int(v) if v else 0


@functools.lru_cache(None)
def _gpu_devices_for(n_logical):
    count = cuda.gpu_count()
    if not count:
        return ()
    if n_logical:
        return tuple(cuda.CudaDevice(i, physical_id=i % count) for i in range(n_logical))
    return tuple(cuda.CudaDevice(i) for i in range(count))


def _gpu_devices():
    return _gpu_devices_for(_num_logical_gpus())


def _requested_platform():
    p = _config.read('jax_platforms')
    if not p:
        return None
    first = str(p).split(',')[0].strip().lower()
    if first not in _ALIASES:
        raise RuntimeError(f'Unknown backend {p!r} in jax_platforms / TINYJAX_PLATFORM; '
                           "use 'cpu', 'cuda' or 'gpu-emulated'")
    if first in emulated.PLATFORM_NAMES and not emulated.installed():
        emulated.install()          # CuPy's double: the CUDA backend on host memory
        _gpu_devices_for.cache_clear()
    return _ALIASES[first]


def default_backend():
    p = _requested_platform()
    if p == 'gpu':
        if not _gpu_devices():
            raise RuntimeError('TINYJAX_PLATFORM=cuda but CuPy sees no GPU: install the '
                               "'cuda' extra and check the driver, or use TINYJAX_PLATFORM=cpu")
        return 'gpu'
    if p == 'cpu':
        return 'cpu'
    return 'gpu' if _gpu_devices() else 'cpu'


def _platform(backend):
    b = _ALIASES.get(str(backend).lower()) if backend is not None else default_backend()
    if b is None:
        raise RuntimeError(f"Unknown backend {backend!r}: use 'cpu' or 'gpu'")
    return b


def process_devices(backend=None):
    """This process's own devices, ignoring any distributed setup."""
    b = _platform(backend)
    if b == 'gpu':
        d = _gpu_devices()
        if not d:
            raise RuntimeError('Backend gpu requested, but no GPU is visible to CuPy')
        return list(d)
    return list(_cpu_devices(cpu_device_count()))


def cpu_device_count():
    """jax_num_cpu_devices when set; else XLA's host-platform flag, as JAX reads it (the
    last occurrence in XLA_FLAGS wins); else one device."""
    n = int(_config.read('jax_num_cpu_devices'))
    if n >= 0:
        return n
    count = 1
    for flag in os.environ.get('XLA_FLAGS', '').split():
        name, _, value = flag.partition('=')
        if name == '--xla_force_host_platform_device_count' and value:
            count = int(value)
    return count


def devices(backend=None):
    t = _topology
    if t is not None and _platform(backend) == t.platform:
        return list(t.devices)
    return process_devices(backend)


def local_devices(process_index=None, backend=None):
    t = _topology
    if t is not None and _platform(backend) == t.platform:
        if process_index is None or process_index == t.process_index:
            return list(t.local)
        return [d for d in t.devices if d.process_index == process_index]
    return process_devices(backend)


def device_count(backend=None):
    return len(devices(backend))


def local_device_count(backend=None):
    return len(local_devices(backend=backend))


def process_index(backend=None):
    return _topology.process_index if _topology is not None else 0


def process_count(backend=None):
    return _topology.process_count if _topology is not None else 1


def is_local(device):
    return getattr(device, 'process_index', 0) == process_index() and \
        not isinstance(device, RemoteDevice)


def default_device():
    """The first local device, unless jax_default_device names one (a Device or a
    platform name such as 'cpu')."""
    chosen = _config.read('jax_default_device')
    if chosen is None:
        return local_devices()[0]
    return local_devices(backend=chosen)[0] if isinstance(chosen, str) else chosen


_array.set_default_device_fn(default_device)

# The emulated GPU replaces CuPy for the whole process, so it goes in before anything
# (a test, a bench) imports CuPy itself.
if str(_config.read('jax_platforms') or '').split(',')[0].strip().lower() in emulated.PLATFORM_NAMES:
    _requested_platform()
