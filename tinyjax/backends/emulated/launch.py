"""Kernel launches on the emulated GPUs: the checks a driver makes, then a host run.

A cubin cannot run on the host, so the emulated driver remembers the source NVRTC
compiled each cubin from (`remember`, called by compiler/nvrtc.py) and runs that source
instead. `check_launch` does what the driver and a careful reader of the launch would:
grid and block within sm_90's limits, one argument per kernel parameter, every pointer
a C-contiguous array on the launching GPU and aligned for its element type, every scalar
a NumPy scalar of the parameter's exact C type (a Python float would be passed as a
double and corrupt a `float` parameter and everything after it).

`run_kernel` is the one place a launch executes. By default it runs the GPU variant of
the source on the SIMT runtime (backends/simt.py: blockDim threads per block, warps,
shuffles, shared memory, barriers) in checked mode, with the grid and block the GPU's
launch plan chose. TINYJAX_EMULATED_KERNELS picks: `simt` (checked, the default),
`simt-fast` (unchecked), `host` (the host variant, one host thread per block: fastest;
the generated kernels stride over their work by blockIdx/gridDim, so the planned grid
and the chunking and scratch derived from 132 SMs still run).
"""
import os
import ctypes
import hashlib
import re
import threading

import numpy as np

from tinyjax.backends import cpu, simt
from tinyjax.backends.emulated import memory
from tinyjax.backends.emulated.arrays import ndarray
from tinyjax.compiler import hostcc

_sources = {}            # sha256 of a cubin -> the source NVRTC compiled it from
_lock = threading.Lock()

C_SCALARS = {'int': np.int32, 'unsigned int': np.uint32, 'long long': np.int64,
             'long long int': np.int64, 'unsigned long long': np.uint64, 'long': np.int64,
             'float': np.float32, 'double': np.float64, 'bool': np.bool_,
             'short': np.int16, 'char': np.int8, 'signed char': np.int8,
             'unsigned char': np.uint8, 'unsigned short': np.uint16}
C_POINTEES = dict(C_SCALARS, **{'unsigned': np.uint32, 'void': np.uint8})


recording = []      # non-empty once the emulated GPU is installed (compiler/nvrtc.py asks)


def remember(cubin, source):
    with _lock:
        _sources[hashlib.sha256(bytes(cubin)).hexdigest()] = source


def source_of(cubin):
    with _lock:
        src = _sources.get(hashlib.sha256(bytes(cubin)).hexdigest())
    if src is None:
        raise RuntimeError('cuModuleLoadData: the emulated driver runs only cubins built by '
                           "tinyjax's NVRTC path in this process (compiler/nvrtc.py)")
    return src


_KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)')


def kernel_names(source):
    return {m.group(1) for m in _KERNEL.finditer(source)}


def kernel_params(source, name):
    """[(C type, is pointer, parameter name)] of kernel `name` in `source`."""
    for m in _KERNEL.finditer(source):
        if m.group(1) == name:
            params = []
            for p in (q.strip() for q in m.group(2).split(',') if q.strip()):
                pointer = '*' in p
                words = [w for w in re.split(r'[\s*]+', p)
                         if w and w not in ('const', '__restrict__', 'volatile')]
                params.append((' '.join(words[:-1]), pointer, words[-1]))
            return params
    raise RuntimeError(f'no kernel {name!r} in the module')


def check_launch(name, params, grid, block, args, device, limits):
    """(arrays, scalars) for a launch, or an error saying what a GPU would do wrong."""
    for what, dims, top in (('grid', grid, limits['maxGridSize']),
                            ('block', block, limits['maxThreadsDim'])):
        if not isinstance(dims, tuple) or not 1 <= len(dims) <= 3:
            raise TypeError(f'{name}: {what} must be a tuple of 1 to 3 ints, not {dims!r}')
        for d, t in zip(dims, top):
            if not isinstance(d, (int, np.integer)) or not 1 <= d <= t:
                raise ValueError(f'{name}: {what} {dims} is outside sm_90\'s limits '
                                 f'(each dimension 1..{t})')
    threads = int(np.prod(block))
    if threads > limits['maxThreadsPerBlock']:
        raise ValueError(f'{name}: block {block} has {threads} threads, more than sm_90\'s '
                         f'{limits["maxThreadsPerBlock"]}')
    if not isinstance(args, tuple):
        raise TypeError(f'{name}: the arguments must be a tuple, not {type(args).__name__}')
    if len(args) != len(params):
        raise TypeError(f'{name}: {len(args)} arguments for {len(params)} parameters '
                        f'({", ".join(p[2] for p in params)})')
    arrays, scalars = [], []
    for i, ((ctype, pointer, pname), a) in enumerate(zip(params, args)):
        where = f'{name}: argument {i} ({ctype}{"*" if pointer else ""} {pname})'
        if pointer:
            if not isinstance(a, ndarray):
                raise TypeError(f'{where} must be a device array, not {type(a).__name__}')
            if a._device != device:
                raise RuntimeError(f'{where} lives on GPU {a._device}, the launch runs on '
                                   f'GPU {device}')
            if not a._a.flags.c_contiguous:
                raise ValueError(f'{where} is not C-contiguous: the kernel indexes it flat')
            size = np.dtype(C_POINTEES.get(ctype, np.uint8)).itemsize
            if memory.address(a._a) % size:
                raise ValueError(f'{where} at {memory.address(a._a):#x} is not aligned '
                                 f'to {size} bytes')
            arrays.append(a._a)
        else:
            want = C_SCALARS.get(ctype)
            if want is None:
                raise TypeError(f'{where}: the emulated driver does not know C type {ctype!r}')
            if not isinstance(a, np.generic) or a.dtype != np.dtype(want):
                raise TypeError(f'{where} must be a NumPy {np.dtype(want).name} scalar, not '
                                f'{type(a).__name__} {a!r} (CuPy passes a Python int as 8 '
                                'bytes and a float as a double)')
            scalars.append(a)
    return arrays, scalars


_host_modules = {}


def _host_entry(source, name):
    """Address of kernel `name`'s uniform host entry point (tjw_<name>) in the host build
    of `source`."""
    entry = _host_modules.get((source, name))     # a str caches its hash: a cheap key
    if entry is None:
        lib = hostcc.build(source, 'emulated', wrap=sorted(kernel_names(source)))
        entry = _host_modules[(source, name)] = ctypes.cast(getattr(lib, 'tjw_' + name),
                                                            ctypes.c_void_p).value
    return entry


_simt_modules = {}


def run_kernel(source, name, grid, block, arrays, scalars):
    """Run one launch of kernel `name` from `source` on host memory (see the docstring)."""
    mode = os.environ.get('TINYJAX_EMULATED_KERNELS', 'simt')
    if mode in ('simt', 'simt-fast'):
        key = (source, mode)
        with _lock:
            module = _simt_modules.get(key)
        if module is None:
            module = simt.Module(source, kernel_names(source), checked=mode == 'simt')
            with _lock:
                _simt_modules[key] = module
        module.kernels[name](grid, block, [*arrays, *(int(s) for s in scalars)])
        return
    if mode != 'host':
        raise ValueError(f"TINYJAX_EMULATED_KERNELS={mode!r}: use 'simt', 'simt-fast' or 'host'")
    if grid[1:] not in ((), (1,), (1, 1)):
        raise RuntimeError(f'{name}: the host variant runs 1-D grids; got {grid}')
    if any(not np.issubdtype(s.dtype, np.integer) for s in scalars):
        raise RuntimeError(f'{name}: the host variant passes integer scalars only')
    address = _host_entry(source, name)
    launch = hostcc.launcher(wait=True)
    work = sum(a.size for a in arrays)
    threads = min(cpu.host_threads(work, grid[0]), grid[0])
    ints = tuple(int(s) for s in scalars)
    if launch is not None:
        launch(address, list(arrays), ints, threads, grid[0])
        return
    wrapper = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_void_p),
                               ctypes.POINTER(ctypes.c_longlong), ctypes.c_int,
                               ctypes.c_int)(address)
    ptrs = (ctypes.c_void_p * max(1, len(arrays)))(*[memory.address(a) for a in arrays])
    vals = (ctypes.c_longlong * max(1, len(ints)))(*ints)
    for b in range(grid[0]):
        wrapper(ptrs, vals, b, grid[0])
