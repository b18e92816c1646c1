"""The SIMT runtime: the GPU variant of generated kernels, run on the host as a GPU runs it.

The host variant that the CPU backend runs (kernels/tj_host_shim.h) is a different
program where it matters most: one thread per block, no shuffles, no shared memory, no
barriers. Here the exact source NVRTC compiles is built by the host compiler against
kernels/tj_simt_shim.h (hostcc.build, variant 'simt' or 'simt-checked') and launched on
kernels/tj_simt_runtime.cpp: blockDim threads per block as fibers, warps of 32,
__syncthreads as a barrier of the block, shuffles exchanging values between lanes,
shared memory private to each block instance, blocks shared by several host threads.

Checked mode (the default; what CI runs) also bounds-checks every load and store
against the launch's buffers, reports shared-memory races between barriers and reads of
shared memory never written, the way compute-sanitizer's memcheck and racecheck would;
a barrier or warp operation that not every thread reaches is an error in both modes.
Unchecked mode (`checked=False`) skips the instrumentation and so catches no stray
access: one may corrupt host memory or crash the process, as it would fault a GPU.
Every error is a `SimtError` naming the kernel, the block and thread, and the buffer,
index and extent (or the threads and the barrier).

`SimtDevice` is a CPU device (NumPy buffers) whose compiled programs take the launch
plan of a GPU (`H200`: 132 SMs, sm_90 limits: the same `launches()` passes, grids and
scratch a real one gets) and run their kernels here. `TINYJAX_SIMT=1` makes the CPU
devices SimtDevices (checked; `TINYJAX_SIMT=fast` unchecked); a test can instead put its
arguments on one with `jax.device_put(x, SimtDevice())`.
"""
import ctypes
import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

from tinyjax.backends import cpu
from tinyjax.compiler import headers, hostcc


class SimtError(RuntimeError):
    """A kernel did what a GPU would fault on, race on, or hang at (see the message)."""


@dataclass(frozen=True)
class GpuTarget:
    """The properties of a GPU that a launch plan and the launch checks depend on."""
    name: str
    arch: str = 'sm_90'
    sm_count: int = 132
    max_threads_per_block: int = 1024
    max_block: tuple = (1024, 1024, 64)
    max_grid: tuple = (2 ** 31 - 1, 65535, 65535)
    shared_per_block: int = 48 * 1024      # static __shared__ a block may declare
    warp_size: int = 32


H100 = GpuTarget('NVIDIA H100 80GB HBM3')
H200 = GpuTarget('NVIDIA H200')

STACK_BYTES = 64 * 1024       # per GPU thread (a fiber); kernels use a few hundred bytes

# Element sizes of the C types kernel parameters point to.
_C_SIZES = {'bool': 1, 'char': 1, 'signed char': 1, 'unsigned char': 1, 'short': 2,
            'unsigned short': 2, 'int': 4, 'unsigned int': 4, 'unsigned': 4, 'float': 4,
            'long long': 8, 'unsigned long long': 8, 'long': 8, 'unsigned long': 8,
            'double': 8, 'void': 1}
_KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)')


def kernel_params(source):
    """{kernel: [(element C type or None for a scalar, parameter name)]} of `source`."""
    out = {}
    for m in _KERNEL.finditer(source):
        params = []
        for p in m.group(2).split(','):
            p = p.replace('__restrict__', ' ').strip()
            name = re.findall(r'\w+', p)[-1]
            decl = p[:p.rfind(name)].strip()
            if '*' in decl:
                base = ' '.join(w for w in decl.replace('*', ' ').split() if w != 'const')
                params.append((base, name))
            else:
                params.append((None, name))
        out[m.group(1)] = params
    return out


class _Buffer(ctypes.Structure):
    _fields_ = [('base', ctypes.c_ulonglong), ('nbytes', ctypes.c_ulonglong),
                ('elem', ctypes.c_int), ('name', ctypes.c_char_p), ('ctype', ctypes.c_char_p)]


class _LaunchArgs(ctypes.Structure):
    _fields_ = [('entry', ctypes.c_void_p), ('touch_shared', ctypes.c_void_p),
                ('pointers', ctypes.POINTER(ctypes.c_void_p)),
                ('scalars', ctypes.POINTER(ctypes.c_longlong)),
                ('grid', ctypes.c_uint * 3), ('block', ctypes.c_uint * 3),
                ('n_buffers', ctypes.c_int), ('buffers', ctypes.POINTER(_Buffer)),
                ('n_scalars', ctypes.c_int), ('kernel', ctypes.c_char_p), ('checked', ctypes.c_int),
                ('host_threads', ctypes.c_int), ('shared_limit', ctypes.c_ulonglong),
                ('stack_bytes', ctypes.c_ulonglong), ('error', ctypes.c_char_p),
                ('error_len', ctypes.c_int)]


@functools.lru_cache(None)
def runtime():
    """The runtime library, loaded RTLD_GLOBAL: kernel modules resolve its tj_simt_*
    functions and instrumentation hooks when they load."""
    if hostcc.compiler() is None:
        raise SimtError('the SIMT runtime needs a C++ compiler (set CXX, or install g++)')
    text = headers.expand(headers.read_header('tj_simt_runtime.cpp'))
    # _FORTIFY_SOURCE's longjmp refuses to jump to another stack, which is what a fiber
    # switch is.
    flags = ('-O2', '-std=c++17', '-fPIC', '-shared', '-pthread', '-U_FORTIFY_SOURCE', '-w')
    path = hostcc.compile_library('tj_simt_runtime', text, flags)
    lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    lib.tj_simt_launch.argtypes = [ctypes.POINTER(_LaunchArgs)]
    lib.tj_simt_launch.restype = ctypes.c_int
    return lib


class Module:
    """The GPU variant of a module's source, built for the SIMT runtime."""

    def __init__(self, source, names, checked=True, target=H200):
        runtime()
        self.checked, self.target = checked, target
        self.params = kernel_params(source)
        variant = 'simt-checked' if checked else 'simt'
        self.lib = hostcc.build(source, 'simt', wrap=names, variant=variant)
        self.lines = hostcc.host_source(source, variant).split('\n')   # what (line N) refers to
        self._touch = ctypes.cast(self.lib.tj_simt_touch_shared, ctypes.c_void_p).value
        self.kernels = {n: Kernel(self, n) for n in names}


    def quote_lines(self, message):
        """The runtime's `(line N` references with the source line quoted, and the code
        offset of a faulting access (`[pc +0x...]`) as its line, when addr2line finds it
        in the module's line table (checked builds have one)."""
        def access(m):
            tool = shutil.which('addr2line')
            if tool is None:
                return m.group(0)
            out = subprocess.run([tool, '-e', self.lib._name, m.group(1)], capture_output=True,
                                 text=True, timeout=60).stdout
            line = re.search(r':(\d+)', out)
            return f' (line {line.group(1)})' if line and int(line.group(1)) else m.group(0)

        def quote(m):
            n = int(m.group(1))
            text = self.lines[n - 1].strip() if 0 < n <= len(self.lines) else ''
            return f'(line {n}: `{text}`' if text else m.group(0)
        message = re.sub(r' \[pc \+(0x[0-9a-f]+)\]', access, message)
        return re.sub(r'\(line (\d+)', quote, message)


class Kernel:
    """One kernel of a Module: call it with grid, block and the kernel's arguments (arrays
    for its pointer parameters, integers for the rest, in the kernel's order)."""

    def __init__(self, module, name):
        self.module, self.name = module, name
        self.entry = ctypes.cast(getattr(module.lib, 'tjw_' + name), ctypes.c_void_p).value
        params = module.params[name]
        self.pointer_params = [(t, p) for t, p in params if t is not None]
        self.n_scalars = len(params) - len(self.pointer_params)
        self._names = [(p.encode(), t.encode(), _C_SIZES.get(t, 1))
                       for t, p in self.pointer_params]

    def __call__(self, grid, block, args, host_threads=None):
        grid, block = _dims(grid, 'grid'), _dims(block, 'block')
        _check_dims(self.name, grid, block, self.module.target)
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        scalars = [int(a) for a in args if not isinstance(a, np.ndarray)]
        if len(arrays) != len(self.pointer_params) or len(scalars) != self.n_scalars:
            raise TypeError(f'kernel {self.name} takes {len(self.pointer_params)} arrays and '
                            f'{self.n_scalars} scalars, got {len(arrays)} and {len(scalars)}')
        for a, (_, p) in zip(arrays, self.pointer_params):
            if not a.flags.c_contiguous:
                raise ValueError(f'kernel {self.name}: argument {p} is not C-contiguous')
        if self.module.checked:
            with _Quarantine(arrays) as copies:
                return self._launch(grid, block, copies, scalars, host_threads)
        return self._launch(grid, block, arrays, scalars, host_threads)

    def _launch(self, grid, block, arrays, scalars, host_threads):
        n = len(arrays)
        bufs = (_Buffer * max(n, 1))()
        for i, (a, (name, ctype, elem)) in enumerate(zip(arrays, self._names)):
            bufs[i] = _Buffer(a.ctypes.data, a.nbytes, elem, name, ctype)
        pointers = (ctypes.c_void_p * max(n, 1))(*[a.ctypes.data for a in arrays])
        ints = (ctypes.c_longlong * max(len(scalars), 1))(*scalars)
        blocks = grid[0] * grid[1] * grid[2]
        if host_threads is None:
            forced = os.environ.get('TINYJAX_SIMT_THREADS')
            host_threads = int(forced) if forced else min(cpu.usable_cpus(), blocks)
        error = ctypes.create_string_buffer(4096)
        target = self.module.target
        la = _LaunchArgs(self.entry, self.module._touch, pointers, ints, grid, block, n, bufs,
                         len(scalars), self.name.encode(), int(self.module.checked), max(1, host_threads),
                         target.shared_per_block, STACK_BYTES, ctypes.cast(error, ctypes.c_char_p),
                         len(error))
        if runtime().tj_simt_launch(ctypes.byref(la)):
            raise SimtError(self.module.quote_lines(error.value.decode(errors='replace')))


class _Quarantine:
    """Checked launches run on copies of their buffers in one arena, each with a gap on
    either side at least as long as itself (4 KiB at least), so that an index past a
    buffer's end, or before its start, by up to its own length lands in no buffer and is
    reported, instead of landing in a neighbouring allocation. Buffers that share memory
    (an output written in place over an input) share one copy; each keeps its address
    modulo 256, so the kernel takes the same aligned or misaligned path. The copies are
    written back after the launch."""

    def __init__(self, arrays):
        self.arrays = arrays

    def __enter__(self):
        spans = sorted((a.ctypes.data, a.ctypes.data + a.nbytes) for a in self.arrays)
        groups = []                          # [start, end) of memory the arrays share
        for lo, hi in spans:
            if groups and lo < groups[-1][1]:
                groups[-1][1] = max(groups[-1][1], hi)
            else:
                groups.append([lo, hi])
        gaps = [max(4096, -(-(hi - lo) // 256) * 256) for lo, hi in groups]
        size = sum(gaps) + sum(hi - lo + 512 for lo, hi in groups) + max(gaps, default=0)
        self.arena = np.empty(size + 256, np.uint8)
        base = -(-self.arena.ctypes.data // 256) * 256
        self.places = []                     # (original start, copy start, bytes)
        at = base
        for (lo, hi), gap in zip(groups, gaps):
            at += gap
            copy = at + lo % 256
            ctypes.memmove(copy, lo, hi - lo)
            self.places.append((lo, copy, hi - lo))
            at = -(-(copy + hi - lo) // 256) * 256
        return [self._copy_of(a) for a in self.arrays]

    def _copy_of(self, a):
        start = a.ctypes.data
        for lo, copy, n in self.places:
            if lo <= start < lo + n or (a.nbytes == 0 and start == lo):
                offset = copy + start - lo - self.arena.ctypes.data
                return self.arena[offset:offset + a.nbytes].view(a.dtype).reshape(a.shape)
        raise AssertionError('every array lies in a group')

    def __exit__(self, *exc):
        for lo, copy, n in self.places:
            ctypes.memmove(lo, copy, n)
        return False


def _dims(d, what):
    d = tuple(int(x) for x in (d if isinstance(d, (tuple, list)) else (d,)))
    if not 1 <= len(d) <= 3:
        raise ValueError(f'{what} must have 1 to 3 dimensions, got {d}')
    return d + (1,) * (3 - len(d))


def _check_dims(name, grid, block, target):
    """What the driver refuses at launch (cudaErrorInvalidConfiguration)."""
    threads = block[0] * block[1] * block[2]
    if min(grid + block) < 1 or threads > target.max_threads_per_block or any(
            b > m for b, m in zip(block, target.max_block)) or any(
            g > m for g, m in zip(grid, target.max_grid)):
        raise SimtError(f'kernel {name}: invalid launch configuration grid {grid}, block '
                        f'{block} for {target.name} ({target.arch}: at most '
                        f'{target.max_threads_per_block} threads a block, block {target.max_block},'
                        f' grid {target.max_grid})')


class SimtDevice(cpu.CpuDevice):
    """A CPU device whose compiled programs run the GPU variant of their kernels on the
    SIMT runtime, with the launch plan of `target` (its SM count decides the grids, the
    row splits and their scratch, as on the real GPU)."""

    def __init__(self, id=0, process_index=0, checked=True, target=H200):
        super().__init__(id, process_index)
        self.checked, self.target = checked, target
        self.sm_count = target.sm_count
        self.device_kind = f'{target.name} (SIMT emulation)'

    @staticmethod
    def load_module(module):
        return dict(module.kernels)

    @staticmethod
    def kernel_caller(fn, grid, block, scalars, work=0):
        scalars = tuple(int(s) for s in scalars)

        def call(bufs):
            fn(grid, block, [*bufs, *scalars])
        return call

    def __repr__(self):
        return f'SimtDevice(id={self.id}, {self.target.name}{"" if self.checked else ", unchecked"})'


def device_factory():
    """A SimtDevice maker when TINYJAX_SIMT asks for one (1: checked, fast: unchecked)."""
    mode = os.environ.get('TINYJAX_SIMT', '').strip().lower()
    if mode in ('', '0'):
        return None
    return functools.partial(SimtDevice, checked=mode != 'fast')
