"""`tinyjax.Array`: the base class of concrete arrays and tracers.

Operators and methods (`+`, `.sum()`, indexing, `.at`) are installed on `Array` by
`tinyjax.numpy` (the layer that defines them), so tracers and concrete arrays share them.
A concrete array holds one buffer — a NumPy array on the CPU, a CuPy array on a GPU —
and the device that owns it; the core never looks inside the buffer.
"""
import numpy as np

from tinyjax import dtypes
from tinyjax.core.ir import ShapedArray

_default_device = None


def set_default_device_fn(fn):
    global _default_device
    _default_device = fn


def default_device():
    return _default_device()


class Array:
    """Base of `ArrayImpl` (a value) and `Tracer` (a value being traced)."""
    __slots__ = ()
    __array_priority__ = 100

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    weak_type = property(lambda self: self.aval.weak_type)
    ndim = property(lambda self: len(self.aval.shape))
    size = property(lambda self: self.aval.size)

    def __len__(self):
        if not self.aval.shape:
            raise TypeError('len() of unsized object (a 0-d array)')
        return self.aval.shape[0]

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError('iteration over a 0-d array')
        return (self[i] for i in range(self.aval.shape[0]))


def aval_of(x):
    """The ShapedArray of an array, a tracer, an aval, a Python scalar (weak) or a NumPy value."""
    if isinstance(x, Array) or hasattr(x, 'aval'):
        return x.aval
    if isinstance(x, ShapedArray):
        return x
    if isinstance(x, (bool, int, float, complex)):
        return ShapedArray((), dtypes.python_scalar_dtype(x), True)
    x = np.asarray(x)
    return ShapedArray(x.shape, dtypes.canonicalize(x.dtype), False)


class _DeletedBuffer:
    """Stands in for the buffer of a deleted (donated) array: any use raises."""
    __slots__ = ('aval',)

    def __init__(self, aval):
        self.aval = aval

    def __getattr__(self, name):
        raise RuntimeError(f'Array has been deleted with shape={self.aval.str_short()}: it was '
                           'donated to a jit-compiled function (donate_argnums), which may '
                           'have reused its memory. Use the function\'s result instead, or '
                           'do not donate this argument.')

    def __array__(self, *args, **kwargs):
        self.__getattr__('__array__')


class ArrayImpl(Array):
    __slots__ = ('_buf', 'aval', 'device', '__weakref__')
    apply_sharded = None     # GlobalArray's: ops on it run partitioned (transforms/partition.py)

    def __init__(self, buf, device, weak_type=False):
        self._buf = buf
        self.device = device
        self.aval = ShapedArray(buf.shape, buf.dtype, weak_type)

    @classmethod
    def from_parts(cls, buf, device, aval):
        """An array of `buf` whose abstract value is already known (compiled outputs)."""
        self = cls.__new__(cls)
        self._buf, self.device, self.aval = buf, device, aval
        return self

    def devices(self):
        return {self.device}

    def delete(self):
        """Release the buffer; later use of this array raises RuntimeError."""
        self._buf = _DeletedBuffer(self.aval)

    def is_deleted(self):
        return isinstance(self._buf, _DeletedBuffer)

    def _value(self):
        return self.device.to_numpy(self._buf)

    def __array__(self, dtype=None, copy=None):
        v = self._value()
        return v if dtype is None else v.astype(dtype)

    def tolist(self):
        return self._value().tolist()

    def item(self, *args):
        return self._value().item(*args)

    def __bool__(self):
        if self.size != 1:
            raise ValueError('The truth value of an array with more than one element is '
                             'ambiguous. Use a.any() or a.all()')
        return bool(self._value())

    def _scalar(self, what):
        if self.size != 1:
            raise TypeError(f'only length-1 arrays can be converted to Python scalars with '
                            f'{what}; got shape {self.shape}. Index or reduce it first.')
        return self._value().reshape(())

    def __float__(self):
        return float(self._scalar('float()'))

    def __int__(self):
        return int(self._scalar('int()'))

    def __complex__(self):
        return complex(self._scalar('complex()'))

    def __index__(self):
        if not dtypes.is_int(self.dtype) and not dtypes.is_bool(self.dtype):
            raise TypeError(f'only integer arrays can be used as an index, got {self.dtype}')
        return int(self._value())

    def __hash__(self):
        raise TypeError('unhashable type: tinyjax.Array')

    def block_until_ready(self):
        self.device.synchronize()
        return self

    def copy_to_host_async(self):
        pass

    def __repr__(self):
        v = self._value()
        body = np.array2string(v, separator=', ', prefix='Array(')
        weak = ', weak_type=True' if self.weak_type else ''
        return f'Array({body}, dtype={v.dtype.name}{weak})'

    def __str__(self):
        return str(self._value())

    def __format__(self, spec):
        if self.ndim == 0:
            return format(self._value().item(), spec)
        return format(str(self), spec)

    def __dlpack__(self, *args, **kwargs):
        buf = self._buf
        if isinstance(buf, np.ndarray):
            # Arrays are immutable: export read-only, as JAX does, to consumers that
            # understand the flag (DLPack >= 1.0); older ones get the plain buffer.
            view = buf.view()
            view.flags.writeable = False
            try:
                return view.__dlpack__(*args, **kwargs)
            except BufferError:
                pass
        # A GPU buffer was written on its device's stream. CuPy's export orders the
        # consumer's stream after CuPy's *current* stream (and CAI v3 names it), so the
        # device's stream must be current here, not the default one.
        with self.device.context():
            return buf.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._buf.__dlpack_device__()

    @property
    def __cuda_array_interface__(self):
        if not hasattr(self._buf, '__cuda_array_interface__'):
            raise AttributeError('__cuda_array_interface__: this array lives on the CPU; '
                                 'move it with tinyjax.device_put(x, tinyjax.devices("cuda")[0])')
        with self.device.context():     # its 'stream' entry: the stream that wrote the buffer
            return self._buf.__cuda_array_interface__

    def __reduce__(self):
        return (_rebuild, (self._value(), self.weak_type))


def _rebuild(value, weak_type):
    dev = default_device()
    return ArrayImpl(dev.put(value), dev, weak_type)


def from_numpy(value, weak_type=False, device=None):
    """Wrap a host value as an ArrayImpl on `device` (default device when None)."""
    dev = device or default_device()
    return ArrayImpl(dev.put(np.asarray(value)), dev, weak_type)
