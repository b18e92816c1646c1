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
import tempfile
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


def build(source, name='program'):
    """A ctypes.CDLL of `source` built for the host (cached in memory and on disk)."""
    full = host_source(source)
    k = cache.key('host', full, FLAGS, compiler_version())
    if k in _loaded:
        return _loaded[k]
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
            proc = subprocess.run([cxx, *FLAGS, str(src), '-o', str(out)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                saved = cache.save_failed_source(name, full, 'cpp')
                raise errors.CompileError(
                    f'host compile of {name} failed:\n{proc.stderr}\nsource saved at {saved}',
                    log=proc.stderr, source_path=str(saved))
            cache.store(k, 'so', out.read_bytes())
    lib = ctypes.CDLL(str(path))
    _loaded[k] = lib
    return lib
