"""How many threads NumPy's BLAS may use for one matmul on the CPU.

OpenBLAS splits every GEMM over all cores and waits for its slowest thread. On a shared
machine, when another process holds one of the cores, that wait is a scheduler time
slice: measured on a 2-core VM at load average 8, a compiled MLP step (784-512-512-10,
batch 128) took 158 ms with 2 BLAS threads and 26 ms with one (batch 512: 305 vs 81 ms).
So a matmul runs on one thread when it is small (below SMALL_FLOPS, where a second
thread saves less than waking it costs) or when the machine is busy (the 1-minute load
average at least the CPUs this process may use, read at most once a second), and on
every usable CPU otherwise. TINYJAX_BLAS_THREADS=N fixes the count.

The library is found among the shared objects this process has loaded (NumPy's bundled
scipy-openblas, or a system OpenBLAS); with another BLAS the policy does nothing.
"""
import ctypes
import os
import threading
import time

import numpy as np

SMALL_FLOPS = 1 << 24
_SETTERS = ('scipy_openblas_set_num_threads64_', 'scipy_openblas_set_num_threads',
            'openblas_set_num_threads64_', 'openblas_set_num_threads')


def _find_setter():
    try:
        with open('/proc/self/maps') as f:
            paths = {line.split()[-1] for line in f if 'openblas' in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes, fn.restype = [ctypes.c_int], None
                return fn
    return None


class BlasThreads:
    """The thread count of the process's OpenBLAS, set only when it changes."""

    def __init__(self):
        self._setter, self._found = None, False
        self._current = None
        self._load, self._load_at = 0.0, -1.0
        self._lock = threading.Lock()

    def _cpus(self):
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:
            return os.cpu_count() or 1

    def busy(self):
        now = time.monotonic()
        if now - self._load_at > 1.0:
            try:
                self._load = os.getloadavg()[0]
            except OSError:
                self._load = 0.0
            self._load_at = now
        return self._load >= self._cpus()

    def threads_for(self, flops):
        forced = os.environ.get('TINYJAX_BLAS_THREADS')
        if forced:
            return max(1, int(forced))
        if flops < SMALL_FLOPS or self.busy():
            return 1
        return self._cpus()

    def set(self, n):
        if n == self._current:
            return
        with self._lock:
            if not self._found:
                self._setter, self._found = _find_setter(), True
            if self._setter is not None:
                self._setter(n)
            self._current = n


blas_threads = BlasThreads()


def host_matmul(flops):
    """np.matmul for a product of `flops` floating-point operations, run with the BLAS
    thread count chosen for it."""
    def matmul(a, b):
        blas_threads.set(blas_threads.threads_for(flops))
        return np.matmul(a, b)
    return matmul
