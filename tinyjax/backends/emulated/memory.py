"""Device memory of the emulated GPUs: host allocations that know their device.

Every buffer of the emulated CuPy is a NumPy array in host memory. What makes it device
memory is this registry: each allocation is recorded with the emulated GPU that was
current when it was made, so the parts of the double that take raw pointers, as the
real libraries do (cuBLAS, NCCL, memcpy, kernel launches), can check that a pointer and
the bytes it is used for lie inside one live allocation of the right device, and fail
with a clear error where a GPU would read out of bounds or fault.
"""
import ctypes
import threading
import weakref

import numpy as np

_lock = threading.RLock()     # reentrant: a weakref callback may run during GC inside it
_live = {}            # base address -> (weakref to the owning ndarray, nbytes, device id)
_state = threading.local()
used_bytes = [0]


def current_device():
    return getattr(_state, 'device', 0)


def set_current_device(i):
    _state.device = i


def _root(a):
    """The array that owns a's memory. as_strided's result has a non-array base that keeps
    the array it views (`.base`): the walk goes through it, so a strided view never
    registers as an allocation of its own."""
    while True:
        base = a.base
        if not isinstance(base, np.ndarray):
            base = getattr(base, 'base', None)
            if not isinstance(base, np.ndarray):
                return a
        a = base


def address(a):
    return a.__array_interface__['data'][0]


def register(a, device):
    """Record the allocation behind ndarray `a` (if new) on `device`; the device that owns
    it (an existing allocation keeps its own)."""
    root = _root(a)
    if root.nbytes == 0:
        return device
    base = address(root)
    with _lock:
        entry = _live.get(base)
        if entry is not None and entry[0]() is root:
            return entry[2]
        if entry is not None:      # a freed allocation whose address came back
            used_bytes[0] -= entry[1]
        nbytes = root.nbytes

        def forget(_, base=base, nbytes=nbytes):
            with _lock:
                e = _live.get(base)
                if e is not None and e[0]() is None:
                    del _live[base]
                    used_bytes[0] -= nbytes
        _live[base] = (weakref.ref(root, forget), nbytes, device)
        used_bytes[0] += nbytes
    return device


def find(ptr, nbytes, what):
    """(owning ndarray, offset, device) of the live allocation holding [ptr, ptr + nbytes);
    a RuntimeError naming `what` when there is none (a GPU would fault or corrupt)."""
    with _lock:
        # A copy first: a collection while the list is built can run `forget` (the lock is
        # reentrant) and change the dict under the iteration.
        items = list(_live.copy().items())
    for base, (ref, size, dev) in items:
        if base <= ptr < base + size or (nbytes == 0 and ptr == base):
            owner = ref()
            if owner is None:
                continue
            if ptr + nbytes > base + size:
                raise RuntimeError(
                    f'{what}: bytes [{ptr:#x}, {ptr + nbytes:#x}) run {ptr + nbytes - base - size} '
                    f'bytes past the end of their allocation ({size} bytes at {base:#x}, '
                    f'device {dev})')
            return owner, ptr - base, dev
    raise RuntimeError(f'{what}: address {ptr:#x} ({nbytes} bytes) is not inside any live '
                       'allocation of the emulated GPUs')


def view(ptr, count, dtype, what, device=None):
    """A flat NumPy view of `count` elements of `dtype` at device address `ptr`, checked
    against the allocations (and, when given, the device that must own them)."""
    dtype = np.dtype(dtype)
    nbytes = count * dtype.itemsize
    owner, offset, dev = find(ptr, nbytes, what)
    if device is not None and dev != device:
        raise RuntimeError(f'{what}: the buffer at {ptr:#x} lives on emulated GPU {dev}, '
                           f'but the call runs on GPU {device}')
    # An owning array is one dense block whatever its strides (C, F or permuted order).
    raw = np.ctypeslib.as_array((ctypes.c_uint8 * max(nbytes, 1)).from_address(ptr))
    return raw[:nbytes].view(dtype)


def memmove(dst, src, nbytes, what):
    view(dst, nbytes, np.uint8, what + ' (destination)')
    view(src, nbytes, np.uint8, what + ' (source)')
    ctypes.memmove(dst, src, nbytes)
