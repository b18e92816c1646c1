"""Matrix products on the CPU: NumPy's BLAS, one slice at a time on the host thread pool.

OpenBLAS splits a GEMM over all cores in fixed shares and waits for its slowest thread.
On a shared machine, when another process holds one of the cores, that wait is a
scheduler time slice: measured on a 2-core VM with two busy loops beside it, a compiled
MLP step (784-512-512-10, batch 128) took 36-113 ms on two OpenBLAS threads against
6-12 ms on one.

So OpenBLAS always runs on one thread, and a product of at least SMALL_FLOPS is cut into
slices (matrices of a batch, else rows or columns of the output) that the calling thread
and the launcher's pool threads (kernels/tj_pylaunch.cpp, `gemm`) take in turn, each
slice one gemm call: a thread that loses its core leaves the slices it has not taken to
the others, as the host kernels' blocks do (the same step, same two busy loops: 6.0-6.3
ms). A slice already taken by a preempted thread still holds the product up, so while
the machine is busy (the 1-minute load average, less this process's own CPU use over
that minute, at least the usable CPUs; read at most once a second) the calling thread
runs the slices alone; when the load comes suddenly, before the average shows it, the
slicing keeps the step from collapsing. Slicing the output's columns re-packs the left
operand for each slice and slicing its rows the right one, so the smaller is cut. The
slices depend on the shape and the usable CPUs only, never on the load, on which thread
runs them or on whether the launcher is built yet (without it, each slice is a NumPy
call), so a product has the same bits run after run (tests/test_blas.py). They differ in
the last place from one NumPy call over the whole product in a few % of float32 elements
(OpenBLAS picks its kernels by size), which is why a busy machine must not fall back to
one call. A product the sliced path cannot take (other dtypes, a layout BLAS cannot
read, a vector) is one NumPy call. TINYJAX_BLAS_THREADS=N fixes the count (read when a
program is built).

The library is found among the shared objects this process has loaded (NumPy's bundled
scipy-openblas, or a system OpenBLAS); with another BLAS, NumPy's matmul runs as it is.
"""
import ctypes
import math
import os
import threading
import time

import numpy as np

from tinyjax.backends.cpu import launcher_counter, usable_cpus
from tinyjax.compiler import hostcc

# Slicing pays from about a million flops while the pool is awake (back to back in a
# step): two slices took 0.65-0.79 of one call's time at 2.1-16 MFLOP, 0.93-1.06 at 1.0,
# 1.18 at 0.5; the MLP step's products with 10 outputs (1.3 MFLOP at batch 128)
# 0.67-1.08 (medians; bench/results/2026-12-03-cpu-speed-7.md).
SMALL_FLOPS = 1 << 20
# Slices a product is cut into per thread. Each re-packs the operand it does not cut:
# four slices of a 512x784 @ 784x512 product took 1.06x one call's thread time, and
# one slice per thread ran the MLP step in 0.87-1.03x of two per thread's time (below
# 1 in 6 of 8 alternating runs, batch 128 and 512; bench/results/2026-12-03-cpu-speed-5.md);
# a thread that never wakes still leaves its slice to the others.
SLICES_PER_THREAD = 1
ALIGN = 16              # slice boundaries at multiples of this many rows or columns
NO_TRANS, TRANS = 111, 112   # CBLAS's enums
LOAD_SPAN = 60.0        # seconds: the time constant of Linux's 1-minute load average
# (thread setter, sgemm, dgemm, 64-bit integers) as each OpenBLAS build names them
_NAMES = (('scipy_openblas_set_num_threads64_', 'scipy_cblas_sgemm64_', 'scipy_cblas_dgemm64_', 1),
          ('scipy_openblas_set_num_threads', 'scipy_cblas_sgemm', 'scipy_cblas_dgemm', 0),
          ('openblas_set_num_threads64_', 'cblas_sgemm64_', 'cblas_dgemm64_', 1),
          ('openblas_set_num_threads', 'cblas_sgemm', 'cblas_dgemm', 0))


def _find_library():
    """(set_num_threads, {dtype: gemm address}, ilp64) of the loaded OpenBLAS, or None."""
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
        for setter, sgemm, dgemm, ilp64 in _NAMES:
            fn = getattr(lib, setter, None)
            if fn is None:
                continue
            fn.argtypes, fn.restype = [ctypes.c_int], None
            gemms = {}
            for dtype, name in ((np.float32, sgemm), (np.float64, dgemm)):
                g = getattr(lib, name, None)
                if g is not None:
                    gemms[np.dtype(dtype)] = ctypes.cast(g, ctypes.c_void_p).value
            return fn, gemms, ilp64
    return None


class Blas:
    """The process's OpenBLAS: its thread count (set only when it changes) and gemms."""

    def __init__(self):
        self._found, self._lib = False, None
        self._current = None
        self._busy, self._load_at, self._cpu_at, self._own = False, -1.0, 0.0, 0.0
        self._lock = threading.Lock()

    def library(self):
        if not self._found:
            with self._lock:
                if not self._found:
                    self._lib, self._found = _find_library(), True
        return self._lib

    def busy(self):
        """Whether other processes' load fills the usable CPUs: the 1-minute load average
        less this process's own share of it, its CPU time per second averaged over the
        same minute (otherwise a process keeping both cores of a 2-core machine busy
        would count as load against itself and drop to one thread)."""
        now = time.monotonic()
        if now - self._load_at > 1.0:
            cpu = time.process_time()
            if self._load_at >= 0:
                span = now - self._load_at
                weight = 1.0 - math.exp(-span / LOAD_SPAN)
                self._own += weight * ((cpu - self._cpu_at) / span - self._own)
            try:
                load = os.getloadavg()[0]
            except OSError:
                load = 0.0
            self._busy = load - self._own >= usable_cpus()
            self._load_at, self._cpu_at = now, cpu
        return self._busy

    def threads_for(self, flops):
        """The threads a product's slices are cut for (the pool may still run them on one)."""
        forced = os.environ.get('TINYJAX_BLAS_THREADS')
        if forced:
            return max(1, int(forced))
        return 1 if flops < SMALL_FLOPS else usable_cpus()

    def set(self, n):
        """OpenBLAS's own thread count."""
        if n == self._current:
            return
        lib = self.library()
        with self._lock:
            if lib is not None:
                lib[0](n)
            self._current = n


blas = Blas()


def _operand(x):
    """(CBLAS transpose flag, leading dimension, batch stride), in elements, of a
    (batch, rows, cols) view that BLAS can read as it is, else None."""
    _, r, c = x.shape
    st = [s // x.itemsize for s in x.strides]
    if any(s % x.itemsize or s < 0 for s in x.strides):
        return None
    if c == 1 or st[2] == 1:                  # rows of contiguous elements
        ld = st[1] if r > 1 else c
        if ld >= c:
            return NO_TRANS, ld, st[0]
    if r == 1 or st[1] == 1:                  # the transpose of such rows
        ld = st[2] if c > 1 else r
        if ld >= r:
            return TRANS, ld, st[0]
    return None


def _plan(a, b, threads, ilp64):
    """How a @ b, (batch, m, k) @ (batch, k, n) views, is cut for `threads` threads:
    (the launcher's integer arguments, split_n, length, step), or None when BLAS cannot
    read a layout."""
    nb, m, k = a.shape
    n = b.shape[2]
    la, lb = _operand(a), _operand(b)
    if la is None or lb is None or min(m, n, k) == 0 or m == 1 or n == 1:
        return None                           # (NumPy calls gemv for a vector)
    want = threads * SLICES_PER_THREAD
    split_n = m <= n                          # re-pack the smaller operand per slice
    length = n if split_n else m
    chunks = 1 if nb >= want else -(-want // nb)
    step = -(-length // chunks)
    step = min(length, -(-step // ALIGN) * ALIGN)
    chunks = -(-length // step)
    ints = (a.itemsize, ilp64, la[0], lb[0], m, n, k, la[1], lb[1], n, la[2], lb[2], m * n,
            nb, chunks, int(split_n), step)
    return ints, split_n, length, step


def _sliced(gemm, address, ilp64, a, b, threads, pool=True, plans=None):
    """a @ b for (batch, m, k) @ (batch, k, n) views through the launcher's gemm, cut
    for `threads` threads (run by the calling thread alone unless `pool`), or None when
    BLAS cannot read a layout. Without the launcher (gemm None: not built yet, or no
    compiler) the same slices are NumPy calls, which call the same gemm on them.
    `plans` keeps the cut of each layout seen, for the next call."""
    key = (a.shape, a.strides, b.shape, b.strides, a.itemsize)
    plan = plans.get(key, False) if plans is not None else False
    if plan is False:
        plan = _plan(a, b, threads, ilp64)
        if plans is not None:
            plans[key] = plan
    if plan is None:
        return None
    ints, split_n, length, step = plan
    out = np.empty((a.shape[0], a.shape[1], b.shape[2]), a.dtype)
    if gemm is None:
        for lo in range(0, length, step):
            cut = slice(lo, lo + step)
            if split_n:
                np.matmul(a, b[:, :, cut], out=out[:, :, cut])
            else:
                np.matmul(a[:, cut], b, out=out[:, cut])
        return out
    gemm(address, (a, b, out), ints, threads if pool else 1)
    return out


def host_matmul(flops):
    """np.matmul for (batch, m, k) @ (batch, k, n) arrays, a product of `flops`
    floating-point operations: sliced over the host threads when it is big enough (the
    thread count is read when the program is built). Loads the launcher, or has it
    built, as host kernels do (cpu.launcher_counter): a program of products alone
    would otherwise run its slices as NumPy calls on one thread for good."""
    threads = blas.threads_for(flops)

    def one(a, b):
        blas.set(1)
        return np.matmul(a, b)
    if threads == 1:
        return one
    without, plans = launcher_counter(), {}

    def matmul(a, b):
        lib = blas.library()
        address = lib[1].get(a.dtype) if lib is not None and a.dtype == b.dtype else None
        if address is None:
            return one(a, b)
        blas.set(1)
        gemm = hostcc.gemm_slot[0]
        if gemm is None:
            without()
        out = _sliced(gemm, address, lib[2], a, b, threads, not blas.busy(), plans)
        return np.matmul(a, b) if out is None else out
    return matmul
