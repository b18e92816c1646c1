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
34 ms, same output bits. What remains is glibc's scalar libm: expm1f ~10 ns, tanhf ~16
ns an element here, where NumPy's SIMD float32 tanh and expm1 take ~0.35 ns.
-fno-split-loops: -O3's loop splitting made softmax 12% slower (512x1024: 3.3 -> 3.7 ms).
"""
import _ctypes
import atexit
import ctypes
import functools
import gc
import os
import shutil
import subprocess
import sys
import threading
import warnings
import weakref

from tinyjax import errors
from tinyjax.compiler import cache, headers

FLAGS = ('-O3', '-fno-math-errno', '-fno-split-loops', '-std=c++17', '-fwrapv', '-fPIC', '-shared',
         '-w')


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


def host_source(source):
    return headers.expand('#include "tj_host_shim.h"\n' + source)


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


def build(source, name='program', wrap=()):
    """A ctypes.CDLL of `source` built for the host (cached in memory and on disk).

    Each kernel named in `wrap` also gets the uniform entry point tjw_<name> that the
    launcher extension calls (TJ_WRAP in kernels/tj_host_shim.h)."""
    full = host_source(source) + ''.join(f'TJ_WRAP({n})\n' for n in wrap)
    k = cache.key('host', full, FLAGS, compiler_version())
    lib = _loaded.get(k)
    if lib is None:
        try:
            lib = ctypes.CDLL(str(_compiled(k, full, FLAGS, name)))
        except OSError:            # a library the loader refuses is rebuilt, once
            lib = ctypes.CDLL(str(_compiled(k, full, FLAGS, name, rebuild=True)))
        _loaded[k] = lib
    return lib


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


def _compiled(k, full, flags, name, prefix=(), rebuild=False):
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
            proc = subprocess.run([*prefix, cxx, *flags, str(src), '-o', str(out)],
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
launch_slot = [None]


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
    import sysconfig
    import numpy as np
    full = headers.read_header('tj_pylaunch.cpp')
    flags = FLAGS + ('-pthread', f'-I{sysconfig.get_paths()["include"]}', f'-I{np.get_include()}')
    k = cache.key('pylaunch', full, flags, compiler_version(), sys.version, np.__version__)

    def build(prefix=()):
        try:
            launch_slot[0] = _load_extension(_compiled(k, full, flags, 'tj_pylaunch', prefix))
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
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.ExtensionFileLoader('tj_pylaunch', str(path))
    spec = importlib.util.spec_from_file_location('tj_pylaunch', str(path), loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module.launch
