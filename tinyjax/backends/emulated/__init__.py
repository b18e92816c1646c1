"""The emulated GPU: the CUDA backend's own code, run without a GPU.

`TINYJAX_PLATFORM=gpu-emulated` (or `jax_platforms='gpu-emulated'`) installs a CuPy double
under the names `cupy`, `cupyx`, `cupy_backends.cuda.libs.cublas` and
`cupy._core._routines_linalg`, so that backends/cuda.py, the Program's GPU branches, the
cuBLAS plan (ops/gemm.py), the precision switches and the NCCL pairing
(backends/collectives.py) run unchanged, each import finding the double where it would
find CuPy. Buffers are host memory that knows its device (`memory.py`); arrays follow
CuPy's rules (`arrays.py`); devices, streams, events and modules follow CUDA's
(`runtime.py`); launches are checked and run through one function
(`launch.run_kernel`); cuBLAS and NCCL work on raw device pointers (`libs.py`). Kernels
are still compiled by the real NVRTC for sm_90, so NVRTC (the `nvidia-cuda-nvrtc` wheel
and CuPy's binding) must be installed; the double replaces everything else.

What it cannot show: timings (streams run eagerly on the host), the real driver (a
cubin's loading and its SASS), NCCL's transport, and, until the SIMT runtime runs the
GPU variant of the kernels, what threads of a block do together (the host variant runs
one thread per block with the GPU's grid).
"""
import math
import sys
import types

import numpy as np

from tinyjax.backends import cuda
from tinyjax.backends.emulated import arrays, devices, launch, libs, memory, runtime

PLATFORM_NAMES = ('gpu-emulated', 'cuda-emulated', 'emulated')
_installed = []


def installed():
    return bool(_installed)


def _module(name, attrs, getattr_fn=None):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    if getattr_fn is not None:
        m.__getattr__ = getattr_fn
    return m


def _numpy_namespace(name, base, real=None):
    """A module whose functions are `base`'s on emulated arrays; types pass through.
    Private names go to `real` (CuPy itself, whose own code loads its libraries through
    them, e.g. cupy._environment)."""
    def lookup(attr):
        if attr.startswith('_') and real is not None:
            return getattr(real, attr)
        if attr in STABLE_SORTS:
            return STABLE_SORTS[attr]
        value = getattr(base, attr)
        if isinstance(value, np.ufunc):
            return arrays.ufunc(value)
        if callable(value) and not isinstance(value, type):
            return arrays.wrap_function(value, attr)
        return value
    return _module(name, {}, lookup)


def _stable(name):
    fn = getattr(np, name)

    def sort(a, axis=-1, kind=None, order=None):
        return arrays.wrap(fn(arrays.unwrap(a, name), axis=axis, kind='stable', order=order))
    return sort


# CuPy sorts with a radix sort: always stable, whatever `kind` says.
STABLE_SORTS = {name: _stable(name) for name in ('sort', 'argsort')}


def _asnumpy(a, stream=None, order='C', out=None, blocking=True):
    return a.get(out=out) if isinstance(a, arrays.ndarray) else np.asarray(a)


def _from_dlpack(obj):
    if isinstance(obj, arrays.ndarray):
        return obj
    if hasattr(obj, '__cuda_array_interface__'):
        return arrays.from_cuda_array_interface(obj)
    raise BufferError('cupy.from_dlpack (emulated): the object is not on an emulated GPU '
                      f'({type(obj).__name__} has no __cuda_array_interface__)')


def _scatter(ufunc_):
    def scatter(a, slices, value):
        ufunc_.at(a._a, arrays._index(slices), arrays.unwrap(value, 'scatter'))
    return scatter


def _erfinv(x):
    a = arrays.unwrap(x, 'erfinv').astype(np.float64)
    y = np.clip(a, -1, 1) * 0.886226925
    erf = np.vectorize(math.erf, otypes=[np.float64])
    for _ in range(60):     # Newton on erf(y) = a, from a start inside the basin
        y = y - (erf(y) - a) / (1.1283791670955126 * np.exp(-y * y))
    y = np.where(a == 1, np.inf, np.where(a == -1, -np.inf, y))
    y = np.where(np.abs(a) > 1, np.nan, y)
    return arrays.wrap(y.astype(arrays.unwrap(x, 'erfinv').dtype))


def _erf(x):
    a = arrays.unwrap(x, 'erf')
    return arrays.wrap(np.vectorize(math.erf, otypes=[np.float64])(a).astype(a.dtype))


def build_modules(real_nvrtc, real_cupy=None):
    device_mod = _module('cupy.cuda.device', {
        'Device': devices.Device, 'get_cublas_handle': runtime.get_cublas_handle,
        'get_compute_capability': runtime.get_compute_capability,
        'get_device_id': memory.current_device})
    function_mod = _module('cupy.cuda.function', {'Module': runtime.Module,
                                                  'Function': runtime.Function})
    nccl_mod = _module('cupy.cuda.nccl', {k: getattr(libs, k) for k in dir(libs) if
                                          k.startswith('NCCL_') or k in (
                                              'available', 'get_version', 'get_unique_id',
                                              'groupStart', 'groupEnd', 'NcclCommunicator')})
    runtime_mod = _module('cupy.cuda.runtime', {k: getattr(runtime.runtime, k)
                                                for k in dir(runtime.runtime)
                                                if not k.startswith('_')})
    cuda = _module('cupy.cuda', {
        'Device': devices.Device, 'Stream': devices.Stream, 'Event': devices.Event,
        'get_current_stream': devices.get_current_stream,
        'get_elapsed_time': devices.get_elapsed_time, 'MemoryPointer': arrays.MemoryPointer,
        'get_device_id': memory.current_device, 'is_available': lambda: True,
        'runtime': runtime_mod, 'device': device_mod, 'function': function_mod,
        'nccl': nccl_mod, 'nvrtc': real_nvrtc})
    cublas = _module('cupy_backends.cuda.libs.cublas', {
        k: getattr(libs, k) for k in dir(libs) if k.startswith('CUBLAS_') or k in (
            'setMathMode', 'getMathMode', 'setStream', 'gemmEx', 'gemmStridedBatchedEx')})
    routines = _module('cupy._core._routines_linalg', {
        k: getattr(libs, k) for k in dir(libs) if k.startswith('COMPUTE_TYPE_') or k in (
            'get_compute_type', 'set_compute_type')})
    core = _module('cupy._core', {'_routines_linalg': routines})
    stride_tricks = _numpy_namespace('cupy.lib.stride_tricks', np.lib.stride_tricks)
    cupy = _module('cupy', {
        '__version__': '14.2.0+emulated', 'ndarray': arrays.ndarray, 'cuda': cuda,
        '_core': core, 'asnumpy': _asnumpy, 'from_dlpack': _from_dlpack,
        'matmul': libs.matmul, 'fuse': lambda *a, **k: (a[0] if a and callable(a[0])
                                                       else (lambda f: f)),
        'get_array_module': lambda *xs: sys.modules['cupy'] if any(
            isinstance(x, arrays.ndarray) for x in xs) else np,
        'get_default_memory_pool': runtime.get_default_memory_pool,
        'linalg': _numpy_namespace('cupy.linalg', np.linalg),
        'lib': _module('cupy.lib', {'stride_tricks': stride_tricks}),
        'emulated': True}, _numpy_namespace('cupy', np, real_cupy).__getattr__)
    special = _module('cupyx.scipy.special', {'erf': _erf, 'erfinv': _erfinv})
    cupyx_scipy = _module('cupyx.scipy', {'special': special})
    cupyx = _module('cupyx', {'scatter_add': _scatter(np.add), 'scatter_max': _scatter(np.maximum),
                              'scatter_min': _scatter(np.minimum), 'scipy': cupyx_scipy})
    libs_pkg = _module('cupy_backends.cuda.libs', {'cublas': cublas})
    backends_cuda = _module('cupy_backends.cuda', {'libs': libs_pkg})
    return {m.__name__: m for m in (
        cupy, cuda, device_mod, function_mod, nccl_mod, runtime_mod, core, routines,
        cupy.linalg, cupy.lib, stride_tricks, cupyx, cupyx_scipy, special, libs_pkg,
        backends_cuda, cublas, _module('cupy_backends', {'cuda': backends_cuda}))}


def install():
    """Put the double where CuPy would be found (once per process)."""
    if _installed:
        return
    try:
        from cupy.cuda import nvrtc as real_nvrtc  # lazy: optional CuPy; its NVRTC still compiles
    except Exception:     # noqa: BLE001 - no CuPy: jit then reports NVRTC missing
        real_nvrtc = None
    sys.modules.update(build_modules(real_nvrtc, sys.modules.get('cupy')))
    launch.recording.append(True)        # compiler/nvrtc.py now tells the driver each cubin's source
    cuda.cupy_or_none.cache_clear()
    _installed.append(True)
