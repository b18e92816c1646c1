"""Building generated kernels for the host with the system C++ compiler.

The CUDA source is compiled as C++ after kernels/tj_host_shim.h, which maps the CUDA
built-ins so that a host thread runs one block, a contiguous share of each grid-stride
loop, and a launch runs one block or several on a pool of threads (see the shim). The result
is a shared library loaded with ctypes and cached on disk like a cubin, keyed by the
source, the flags and the compiler's version. `-fwrapv` gives integer overflow the
wrap-around NumPy and the GPU have. `-O3 -fno-math-errno` (sqrt inlined without its errno
branch, math calls free of side effects) changes no result: no -ffast-math, so NaN, inf
and the order of float operations stay as written, and ISO C++ leaves FMA contraction
off. Measured on a 2-core EPYC VM over 2^20 float32, one thread, against -O2: the bench's
selu (exp, NaN-aware max/min) 15.7 -> 2.7 ms (with both flags g++ vectorises the max/min
across the 4 lanes of the vector loop into compares and masks; at -O2 a mispredicted
branch per element was most of the time), jax.nn.selu 12.4 -> 10.5 ms, chain16 38.5 ->
34 ms, same output bits. What remained was glibc's scalar libm (expm1f ~10 ns, tanhf ~16
ns an element), which libmvec replaces (below).
-fno-split-loops: -O3's loop splitting made softmax 12% slower (512x1024: 3.3 -> 3.7 ms).

The same path builds the GPU variant of a module for the SIMT runtime (`variant='simt'`,
kernels/tj_simt_shim.h: blockDim threads per block, see tinyjax/backends/simt.py), and
`'simt-checked'` compiles it with -fsanitize=thread, whose instrumentation calls a hook
before every load and store; the runtime supplies the hooks (bounds and race checks)
instead of ThreadSanitizer, so the object is linked without libtsan (two steps).
SIMT builds use -O1: they are for checking, and compile about twice as fast as -O3.

Where the CPU has AVX2 and FMA, kernels are built for them (`-mavx2 -mfma`: 8 float
lanes), with `-ffp-contract=off` so that g++ never fuses a multiply and an add the
generated code wrote apart (NumPy rounds both), and `-fno-trapping-math`: kernels never
read the floating-point exception flags, and without it g++ keeps floor, ceil and trunc
scalar (it will not raise the inexact flag that the vector rounding leaves alone). Where
glibc's libmvec is installed its vector math is linked and the shim declares those
functions `simd` (TJ_HOST_MVEC, see kernels/tj_host_shim.h): that, not the arithmetic,
was most of a fused chain's time. Float tanh is the shim's own inline function instead,
vectorised in the loop itself.
"""
import _ctypes
import atexit
import ctypes
import ctypes.util
import functools
import gc
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import warnings
import weakref

import numpy as np

from tinyjax import errors
from tinyjax.compiler import cache, headers

BASE_FLAGS = ('-O3', '-fno-math-errno', '-fno-trapping-math', '-fno-split-loops',
              '-ffp-contract=off', '-std=c++17', '-fwrapv', '-fPIC', '-shared', '-w')


def _cpu_flags():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


def isa_flags():
    """Instruction-set flags for this machine's kernels (part of the cache key)."""
    cpu = _cpu_flags()
    return ('-mavx2', '-mfma') if {'avx2', 'fma'} <= cpu else ()


def mvec_flags():
    """(defines, libraries) that route vectorised math through glibc's libmvec."""
    if ctypes.util.find_library('mvec') is None:
        return (), ()
    return ('-DTJ_HOST_MVEC',), ('-lmvec',)


FLAGS = BASE_FLAGS + isa_flags() + mvec_flags()[0]
LIBS = mvec_flags()[1]     # after the source: the linker drops unused libraries before it


@functools.lru_cache(None)
def compiler():
    """Path of a C++ compiler ($CXX, g++, c++ or clang++), or None."""
    for name in (os.environ.get('CXX'), 'g++', 'c++', 'clang++'):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@functools.lru_cache(None)
def compiler_version():
    try:
        out = subprocess.run([compiler(), '--version'], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0] if out.stdout else ''
    except Exception:
        return ''


SHIMS = {'host': 'tj_host_shim.h', 'simt': 'tj_simt_shim.h', 'simt-checked': 'tj_simt_shim.h'}


def host_source(source, variant='host'):
    return headers.expand(f'#include "{SHIMS[variant]}"\n' + source)


def variant_flags(variant):
    """(compile flags, link flags or None for a one-step build) of a variant."""
    if variant == 'host':
        return FLAGS, None
    # Hidden symbols: a `__shared__` variable (a static local of an inline function) would
    # otherwise be one symbol for the whole process, bound to the first module loaded.
    flags = tuple(f for f in FLAGS if f not in ('-shared', '-O3', '-DTJ_HOST_MVEC')) + (
        '-O1', '-c', '-fvisibility=hidden')
    if variant == 'simt-checked':   # -g1: line tables, for the line of a faulting access
        flags += ('-fsanitize=thread', '-g1')
        if 'clang' not in compiler_version():
            flags += ('--param=tsan-instrument-func-entry-exit=0',)
    return flags, ('-shared', '-fPIC')


_loaded = {}

# The launcher extension (below) takes about 0.3 s to build, once per machine (it is
# cached). A cold first call does not pay for it: it is built in a background thread once
# a kernel has been launched through ctypes 50 times (a loop), and otherwise when the
# process exits, for the next process. The build runs under `nice`, and its thread is
# not a daemon, so a build under way finishes before the process exits.
_started = set()
_deferred = {}
_lock = threading.Lock()


def _schedule(name, build, now):
    """Start build() in a background thread now, or remember it for exit."""
    with _lock:
        if name in _started:
            return
        if not now:
            if not _deferred:
                atexit.register(_run_deferred)
            _deferred[name] = build
            return
        _started.add(name)
        _deferred.pop(name, None)
    threading.Thread(target=build, name=f'tinyjax-{name}').start()


def _run_deferred():
    for name, build in list(_deferred.items()):
        if name not in _started:
            _started.add(name)
            try:
                build()
            except Exception:
                pass


def _background_prefix():
    # Background builds yield the CPU to the work in the foreground. (`nice`, not a
    # preexec_fn: that is unsafe in a process with threads.)
    nice = shutil.which('nice')
    return [nice, '-n', '19'] if nice else []


def build(source, name='program', wrap=(), variant='host'):
    """A ctypes.CDLL of `source` built for the host (cached in memory and on disk).

    Each kernel named in `wrap` also gets the uniform entry point tjw_<name> that the
    launcher extension (or the SIMT runtime) calls (TJ_WRAP in the variant's shim)."""
    full = host_source(source, variant) + ''.join(f'TJ_WRAP({n})\n' for n in wrap)
    flags, link = variant_flags(variant)
    libs = LIBS if variant == 'host' else ()
    k = cache.key(variant, full, flags, link, libs, compiler_version())
    lib = _loaded.get(k)
    if lib is None:
        build = functools.partial(_compiled, k, full, flags, name, link=link, libs=libs)
        try:
            lib = ctypes.CDLL(str(build()))
        except OSError:            # a library the loader refuses is rebuilt, once
            lib = ctypes.CDLL(str(build(rebuild=True)))
        _loaded[k] = lib
    return lib


def compile_library(name, text, flags):
    """Path of `text` (a C++ file) built with `flags` (cached on disk)."""
    k = cache.key('library', name, text, flags, compiler_version())
    return _compiled(k, text, flags, name)


def unload_unused():
    """Forget the loaded libraries, and unload (dlclose) those no compiled program uses
    any more; returns how many were unloaded (jax.clear_caches drops the programs first).
    A library a live program still calls stays loaded and known."""
    dropped = [(k, weakref.ref(lib), lib._handle) for k, lib in _loaded.items()]
    _loaded.clear()
    gc.collect()
    unloaded = 0
    for k, ref, handle in dropped:
        lib = ref()
        if lib is not None:
            _loaded[k] = lib
            continue
        try:
            _ctypes.dlclose(handle)
            unloaded += 1
        except OSError:
            pass
    return unloaded


def _compiled(k, full, flags, name, prefix=(), link=None, libs=(), rebuild=False):
    """Path of the cached shared library for key k, compiling `full` on a miss. The
    compiler works in a folder named for this process inside the cache (cache.build_dir),
    which the next process removes if this one is killed mid-compile."""
    path = cache.entry_path(k, 'so')
    if rebuild or cache.load(k, 'so') is None:
        cxx = compiler()
        if cxx is None:
            raise errors.CompileError('no C++ compiler found (set CXX, or install g++)')
        cache.stats['compiled'] += 1
        with cache.build_dir() as tmp:
            src = tmp / f'{name}.cpp'
            src.write_text(full)
            out = tmp / f'{name}.so'
            obj = out.with_suffix('.o') if link is not None else out
            proc = subprocess.run([*prefix, cxx, *flags, str(src), '-o', str(obj),
                                   *(libs if link is None else ())],
                                  capture_output=True, text=True)
            if proc.returncode == 0 and link is not None:
                proc = subprocess.run([*prefix, cxx, *link, str(obj), '-o', str(out), *libs],
                                      capture_output=True, text=True)
            if proc.returncode != 0:
                saved = cache.save_failed_source(name, full, 'cpp')
                raise errors.CompileError(
                    f'host compile of {name} failed:\n{proc.stderr}\nsource saved at {saved}',
                    log=proc.stderr, source_path=str(saved))
            path = cache.store(k, 'so', out.read_bytes())
    return path


# launch_slot[0] is the launcher's launch function once it is loaded; host kernel
# callers read it on every call (backends/cpu.py), so they switch to it when it arrives.
# gemm_slot[0] is its gemm function (backends/blas.py), loaded with it.
launch_slot = [None]
gemm_slot = [None]


def launcher(wait=False, start=True):
    """The launch function of kernels/tj_pylaunch.cpp built as a CPython extension for
    this interpreter and NumPy, or None: while it is not built (its build is then
    scheduled, in the background if `start`, else at exit; wait=True builds it here), or
    when it cannot be built (no Python or NumPy headers; callers then pass pointers
    through ctypes, about 1 us more per array)."""
    if launch_slot[0] is not None:
        return launch_slot[0]
    if compiler() is None or os.environ.get('TINYJAX_HOST_LAUNCHER', '1') == '0':
        return None
    full = headers.expand(headers.read_header('tj_pylaunch.cpp'))
    flags = FLAGS + ('-pthread', f'-I{sysconfig.get_paths()["include"]}', f'-I{np.get_include()}')
    k = cache.key('pylaunch', full, flags, compiler_version(), sys.version, np.__version__)

    def build(prefix=()):
        try:
            module = _load_extension(_compiled(k, full, flags, 'tj_pylaunch', prefix))
            gemm_slot[0], launch_slot[0] = module.gemm, module.launch
        except (errors.CompileError, ImportError, OSError) as e:
            warnings.warn(f'tinyjax: the host kernel launcher could not be built ({e}); '
                          'compiled programs call kernels through ctypes instead',
                          RuntimeWarning)
        return launch_slot[0]
    if wait or cache.entry_path(k, 'so').exists():
        return build()           # a cached build only needs loading
    _schedule('launcher', lambda: build(_background_prefix()), start)
    return None


def _load_extension(path):
    loader = importlib.machinery.ExtensionFileLoader('tj_pylaunch', str(path))
    spec = importlib.util.spec_from_file_location('tj_pylaunch', str(path), loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
