"""`tinyjax.dlpack`: exchange arrays with other libraries without copying.

`from_dlpack(x)` wraps any object with `__dlpack__` (NumPy, CuPy, PyTorch, JAX) as a
tinyjax array on the default device; in the other direction tinyjax arrays implement
`__dlpack__` (and `__cuda_array_interface__` on a GPU), so `np.from_dlpack(x)`,
`cupy.from_dlpack(x)` and `torch.from_dlpack(x)` take them as they are.
"""
from tinyjax import dtypes, lax
from tinyjax.core.array import ArrayImpl, default_device


def from_dlpack(external_array, device=None, copy=None):
    """A tinyjax array sharing `external_array`'s memory (copied only to another device
    or, as JAX does, to a 32-bit dtype when x64 is off)."""
    dev = device or default_device()
    buf = dev.import_buffer(external_array)
    if copy:
        with dev.context():     # the copy is ordered on (and owned by) the device's stream
            buf = dev.xp.array(buf, copy=True)
    out = ArrayImpl(buf, dev, False)
    want = dtypes.canonicalize(out.dtype)
    if want != out.dtype:
        out = lax.convert_element_type(out, want)
    return out


def to_dlpack(x):
    """A DLPack capsule of `x` (prefer passing `x` itself to the consumer's from_dlpack)."""
    return x.__dlpack__()
