"""Building generated kernels for the host with the system C++ compiler.

The CUDA source is compiled as C++ after kernels/tj_host_shim.h, which maps the CUDA
built-ins so that one host thread runs each grid-stride loop (see the shim). The result
is a shared library loaded with ctypes and cached on disk like a cubin, keyed by the
source, the flags and the compiler's version. `-fwrapv` gives integer overflow the
wrap-around NumPy and the GPU have.
"""
import ctypes
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path

from tinyjax import errors
from tinyjax.compiler import cache, headers

FLAGS = ('-O2', '-std=c++17', '-fwrapv', '-fPIC', '-shared', '-w')


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


# The standard headers the shim includes cost most of a small module's compile (about
# 120 of 130 ms measured here); they are precompiled once per compiler and flags into a
# .gch in the cache folder, and each module build names it with -include (the shim's own
# #includes then cost nothing). The binary is the same with or without it, so module
# cache keys ignore it; TINYJAX_HOST_PCH=0 turns it off.
STD_HEADERS = ('cmath', 'cstring', 'cstdint', 'type_traits', 'utility')


@functools.lru_cache(None)
def precompiled_std():
    """Path of a header with a precompiled .gch beside it, or None."""
    cxx = compiler()
    if cxx is None or os.environ.get('TINYJAX_HOST_PCH', '1') == '0':
        return None
    text = ''.join(f'#include <{h}>\n' for h in STD_HEADERS)
    flags = [f for f in FLAGS if f != '-shared']
    k = cache.key('host-pch', text, flags, compiler_version())
    header = cache.cache_dir() / f'{k}-std.h'
    gch = Path(str(header) + '.gch')
    if not gch.exists():
        cache.store_text(header, text)
        tmp = Path(f'{gch}.tmp-{os.getpid()}-{threading.get_ident()}')
        proc = subprocess.run([cxx, *flags, '-x', 'c++-header', str(header), '-o', str(tmp)],
                              capture_output=True)
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            return None
        os.replace(tmp, gch)
    return header


def build(source, name='program', wrap=()):
    """A ctypes.CDLL of `source` built for the host (cached in memory and on disk).

    Each kernel named in `wrap` also gets the uniform entry point tjw_<name> that the
    launcher extension calls (TJ_WRAP in kernels/tj_host_shim.h)."""
    full = host_source(source) + ''.join(f'TJ_WRAP({n})\n' for n in wrap)
    k = cache.key('host', full, FLAGS, compiler_version())
    if k not in _loaded:
        pch = precompiled_std()
        extra = ('-include', str(pch)) if pch is not None else ()
        _loaded[k] = ctypes.CDLL(str(_compiled(k, full, FLAGS + extra, name)))
    return _loaded[k]


def _compiled(k, full, flags, name):
    """Path of the cached shared library for key k, compiling `full` on a miss."""
    path = cache.entry_path(k, 'so')
    if cache.load(k, 'so') is None:
        cxx = compiler()
        if cxx is None:
            raise errors.CompileError('no C++ compiler found (set CXX, or install g++)')
        cache.stats['compiled'] += 1
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / f'{name}.cpp'
            src.write_text(full)
            out = Path(tmp) / f'{name}.so'
            proc = subprocess.run([cxx, *flags, str(src), '-o', str(out)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                saved = cache.save_failed_source(name, full, 'cpp')
                raise errors.CompileError(
                    f'host compile of {name} failed:\n{proc.stderr}\nsource saved at {saved}',
                    log=proc.stderr, source_path=str(saved))
            cache.store(k, 'so', out.read_bytes())
    return path


@functools.lru_cache(None)
def launcher():
    """The launch function of kernels/tj_pylaunch.cpp built as a CPython extension for
    this interpreter and NumPy, or None when it cannot be built (no Python or NumPy
    headers): callers then pass pointers through ctypes, about 1 us more per array."""
    if compiler() is None or os.environ.get('TINYJAX_HOST_LAUNCHER', '1') == '0':
        return None
    import importlib.machinery
    import importlib.util
    import sysconfig
    import numpy as np
    full = headers.read_header('tj_pylaunch.cpp')
    flags = FLAGS + (f'-I{sysconfig.get_paths()["include"]}', f'-I{np.get_include()}')
    k = cache.key('pylaunch', full, flags, compiler_version(), sys.version, np.__version__)
    try:
        path = _compiled(k, full, flags, 'tj_pylaunch')
        loader = importlib.machinery.ExtensionFileLoader('tj_pylaunch', str(path))
        spec = importlib.util.spec_from_file_location('tj_pylaunch', str(path), loader=loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except (errors.CompileError, ImportError, OSError) as e:
        warnings.warn(f'tinyjax: the host kernel launcher could not be built ({e}); '
                      'compiled programs call kernels through ctypes instead', RuntimeWarning)
        return None
    return module.launch
