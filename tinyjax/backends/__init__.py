"""Device discovery: the GPU is the default backend when CuPy sees one, else the CPU."""
import functools

from tinyjax import config as _config
from tinyjax.backends import cpu, cuda
from tinyjax.core import array as _array

_ALIASES = {'cuda': 'gpu', 'gpu': 'gpu', 'cpu': 'cpu'}


@functools.lru_cache(None)
def _cpu_devices(n):
    return tuple(cpu.CpuDevice(i) for i in range(n))


@functools.lru_cache(None)
def _gpu_devices():
    return tuple(cuda.CudaDevice(i) for i in range(cuda.gpu_count()))


def _requested_platform():
    p = _config.read('jax_platforms')
    if not p:
        return None
    first = str(p).split(',')[0].strip().lower()
    if first not in _ALIASES:
        raise RuntimeError(f'Unknown backend {p!r} in jax_platforms / TINYJAX_PLATFORM; '
                           "use 'cpu' or 'cuda'")
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


def devices(backend=None):
    b = _ALIASES.get(str(backend).lower()) if backend is not None else default_backend()
    if b is None:
        raise RuntimeError(f"Unknown backend {backend!r}: use 'cpu' or 'gpu'")
    if b == 'gpu':
        d = _gpu_devices()
        if not d:
            raise RuntimeError('Backend gpu requested, but no GPU is visible to CuPy')
        return list(d)
    return list(_cpu_devices(int(_config.read('jax_num_cpu_devices'))))


def local_devices(backend=None):
    return devices(backend)


def device_count(backend=None):
    return len(devices(backend))


local_device_count = device_count


def default_device():
    return devices()[0]


_array.set_default_device_fn(default_device)
