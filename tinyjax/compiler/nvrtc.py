"""Compiling generated CUDA C to a cubin with NVRTC (through cupy.cuda.nvrtc).

Works without a GPU: NVRTC only needs its shared library, which the nvidia-cuda-nvrtc
wheel ships. CuPy normally finds it; when it does not, we load the wheel's
libnvrtc.so.* ourselves (RTLD_GLOBAL) before importing CuPy's binding. We always ask for
a cubin for the exact arch (a driver older than NVRTC refuses its PTX).
"""
import ctypes
import functools
import glob
import importlib.util
import os

from tinyjax import errors
from tinyjax.backends import cubin
from tinyjax.backends.emulated import launch as emulated_launch
from tinyjax.compiler import cache, headers

OPTIONS = ('-std=c++17',)


def _preload_wheel_nvrtc():
    spec = importlib.util.find_spec('nvidia')
    roots = list(spec.submodule_search_locations) if spec and spec.submodule_search_locations else []
    for root in roots:
        for pattern in ('cu13/lib/libnvrtc.so*', 'cuda_nvrtc/lib/libnvrtc.so*', '*/lib/libnvrtc.so*'):
            for path in sorted(glob.glob(os.path.join(root, pattern))):
                if 'builtins' in path:
                    continue
                try:
                    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                    return path
                except OSError:
                    continue
    return None


@functools.lru_cache(None)
def binding():
    """cupy.cuda.nvrtc, with libnvrtc loaded; raises CompileError when unavailable."""
    try:
        from cupy.cuda import nvrtc  # lazy: CuPy is optional (GPU only)
    except Exception as e:
        raise errors.CompileError(f'NVRTC is not available: cannot import cupy.cuda.nvrtc ({e}); '
                                  "install tinyjax's 'cuda' extra (cupy-cuda13x, "
                                  'nvidia-cuda-nvrtc)') from e
    try:
        nvrtc.getVersion()
    except Exception:
        if _preload_wheel_nvrtc() is None:
            raise errors.CompileError('NVRTC is not available: libnvrtc was not found; '
                                      'pip install nvidia-cuda-nvrtc') from None
        nvrtc.getVersion()
    return nvrtc


def available():
    try:
        binding()
        return True
    except errors.CompileError:
        return False


@functools.lru_cache(None)
def version():
    return tuple(binding().getVersion())


def compile_cubin(source, arch, name='program'):
    """A cubin (bytes) for `source` on `arch` ('sm_90'), from the disk cache when present."""
    full = headers.expand(source)
    opts = OPTIONS + (f'-arch={arch}',)
    k = cache.key('nvrtc', full, opts, arch, version())
    data = cache.load(k, 'cubin')
    if data is not None:
        data = cubin.well_formed(data)     # entries stored before the padding below
        _tell_emulated_driver(data, source)
        return data
    nv = binding()
    cache.stats['compiled'] += 1
    prog = nv.createProgram(full, f'{name}.cu', [], [])
    try:
        try:
            nv.compileProgram(prog, list(opts))
        except Exception as e:
            try:
                log = nv.getProgramLog(prog)
            except Exception:
                log = str(e)
            path = cache.save_failed_source(name, full)
            raise errors.CompileError(
                f'NVRTC failed to compile {name} for {arch}:\n{log}\nsource saved at {path}',
                log=log, source_path=str(path)) from None
        data = cubin.well_formed(nv.getCUBIN(prog))   # CuPy's is one byte short
    finally:
        try:
            nv.destroyProgram(prog)
        except Exception:
            pass
    cache.store(k, 'cubin', data)
    _tell_emulated_driver(data, source)
    return data


def _tell_emulated_driver(cubin, source):
    """The emulated GPU (backends/emulated) runs a loaded cubin's source, since a cubin
    cannot run on the host: it learns each one's source here."""
    if emulated_launch.recording:
        emulated_launch.remember(cubin, source)
