"""The emulated CuPy's arrays: NumPy arrays in host memory that behave as device arrays.

`ndarray` holds a NumPy array and the emulated GPU that owns it, and keeps CuPy's rules
where they differ from NumPy's, because those are the rules the CUDA backend must obey:
no implicit conversion to NumPy (`np.asarray(x)` raises, `x.get()` copies out), no host
array as an operand (a TypeError, as in CuPy), reductions return 0-d arrays, `data.ptr`
is a device address, `__cuda_array_interface__` names the current stream. Functions of
the `cupy` namespace are NumPy's, called on the unwrapped arrays (`wrap_function`); the
results are new allocations on the current device, views stay on their parent's.
"""
import ctypes

import numpy as np

from tinyjax.backends.emulated import memory
from tinyjax.backends.emulated.devices import Device, get_current_stream

# Functions that take host data and copy it to the device (everything else refuses a
# host ndarray operand, as CuPy does).
FROM_HOST = {'array', 'asarray', 'ascontiguousarray', 'asfortranarray', 'asanyarray'}
FILL = {'full': 1, 'full_like': 1, 'ndarray.fill': 0}     # position of the fill value


def _host_operand(name, a):
    raise TypeError(f'cupy.{name}: Unsupported type {type(a)} (a NumPy array is host memory; '
                    'copy it to the device with cupy.asarray first)')


def unwrap(x, name):
    """x with every emulated array replaced by its NumPy array (lists, tuples, dicts too)."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray):
        _host_operand(name, x)
    if isinstance(x, (list, tuple)):
        items = [unwrap(i, name) for i in x]
        return items if isinstance(x, list) else tuple(items)
    return x


def wrap(x):
    """NumPy results as emulated arrays: views stay on their allocation's device, new
    memory goes to the current one; NumPy scalars become 0-d arrays, as CuPy returns."""
    if isinstance(x, np.generic):
        x = np.asarray(x)
    if isinstance(x, np.ndarray):
        return ndarray(x, memory.register(x, memory.current_device()))
    if isinstance(x, tuple):
        return tuple(wrap(i) for i in x)
    if isinstance(x, list):
        return [wrap(i) for i in x]
    return x


def wrap_function(fn, name):
    def call(*args, **kwargs):
        at = FILL.get(name)
        if at is not None and len(args) > at and isinstance(args[at], np.ndarray):
            if args[at].shape != ():        # CuPy's fill takes a 0-d host array's value
                raise ValueError(f'cupy.{name}: non-scalar numpy.ndarray cannot be used for fill')
            args = args[:at] + (args[at][()],) + args[at + 1:]
        if name in FROM_HOST and args and isinstance(args[0], np.ndarray):
            kwargs.pop('copy', None)
            return wrap(np.array(args[0], *unwrap(args[1:], name), copy=True,
                                 **{k: unwrap(v, name) for k, v in kwargs.items()}))
        if name in FROM_HOST and args and hasattr(args[0], '__cuda_array_interface__') \
                and not isinstance(args[0], ndarray):
            a = from_cuda_array_interface(args[0])
            return a if len(args) == 1 and not kwargs else call(a, *args[1:], **kwargs)
        out = fn(*unwrap(args, name), **{k: unwrap(v, name) for k, v in kwargs.items()})
        return wrap(out)
    call.__name__ = name
    return call


class ufunc:
    """A NumPy ufunc on emulated arrays, with its methods (reduce, accumulate, at, ...)."""

    def __init__(self, uf):
        self._uf, self.__name__ = uf, uf.__name__
        self.nin, self.nout = uf.nin, uf.nout

    def __call__(self, *args, **kwargs):
        return wrap_function(self._uf, self.__name__)(*args, **kwargs)

    def __getattr__(self, method):
        return wrap_function(getattr(self._uf, method), f'{self.__name__}.{method}')


class _Flags:
    def __init__(self, a):
        self.c_contiguous = a.flags.c_contiguous
        self.f_contiguous = a.flags.f_contiguous
        self.owndata = a.base is None

    def __getitem__(self, key):
        return {'C_CONTIGUOUS': self.c_contiguous, 'F_CONTIGUOUS': self.f_contiguous,
                'OWNDATA': self.owndata}[key]


def _binary(op):
    def method(self, other):
        if isinstance(other, np.ndarray):
            _host_operand(op, other)
        return wrap(getattr(self._a, op)(unwrap(other, op)))
    method.__name__ = op
    return method


def _inplace(op):
    def method(self, other):
        if isinstance(other, np.ndarray):
            _host_operand(op, other)
        getattr(self._a, op)(unwrap(other, op))
        return self
    method.__name__ = op
    return method


def _unary(op):
    def method(self):
        return wrap(getattr(self._a, op)())
    method.__name__ = op
    return method


class ndarray:
    """An array on an emulated GPU (see the module docstring)."""
    __slots__ = ('_a', '_device', '__weakref__')
    __array_ufunc__ = None        # NumPy defers to us, and we refuse host operands

    def __init__(self, a, device):
        self._a, self._device = a, device

    # -- what CuPy has that NumPy does not ------------------------------------------------
    @property
    def data(self):
        return MemoryPointer(memory.address(self._a), self._device)

    @property
    def device(self):
        return Device(self._device)

    @property
    def flags(self):
        return _Flags(self._a)

    def get(self, stream=None, order='C', out=None, blocking=True):
        """A host copy (the device's work is in order already: streams run eagerly)."""
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        self._a[...] = np.asarray(arr)

    @property
    def __cuda_array_interface__(self):
        a = self._a
        stream = get_current_stream()
        return {'shape': a.shape, 'typestr': a.dtype.str, 'version': 3,
                'data': (memory.address(a), False),
                'strides': None if a.flags.c_contiguous else a.strides,
                'descr': a.dtype.descr,
                'stream': None if stream.null else stream.ptr}

    def __array__(self, *args, **kwargs):
        raise TypeError('Implicit conversion to a NumPy array is not allowed. Please use '
                        '`.get()` to construct a NumPy array explicitly.')

    def __dlpack__(self, *args, **kwargs):
        raise BufferError('the emulated GPU cannot export DLPack capsules to other '
                          'libraries (its memory is host memory); use '
                          '__cuda_array_interface__ or .get()')

    def __dlpack_device__(self):
        return (2, self._device)       # kDLCUDA

    # -- NumPy's array API, forwarded -------------------------------------------------------
    def __getattr__(self, name):
        if name.startswith('__'):      # NumPy's protocols (__array_interface__, ...) stay hidden
            raise AttributeError(name)
        if name == 'ctypes':
            raise AttributeError("'cupy.ndarray' object has no attribute 'ctypes' (a device "
                                 'array has no host pointer)')
        attr = getattr(self._a, name)
        if name in ('sort', 'argsort'):     # CuPy's sorts are always stable
            def stable(axis=-1, kind=None, order=None, _f=attr):
                return wrap(_f(axis=axis, kind='stable', order=order))
            return stable
        if callable(attr):
            return wrap_function(attr, f'ndarray.{name}')
        return wrap(attr) if isinstance(attr, np.ndarray) else attr

    def __getitem__(self, index):
        return wrap(self._a[_index(index)])

    def __setitem__(self, index, value):
        if isinstance(value, np.ndarray):      # CuPy copies a host value in
            value = np.array(value)
        self._a[_index(index)] = unwrap(value, '__setitem__')

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (wrap(r) for r in self._a)

    def __bool__(self):
        return bool(self._a)

    def __int__(self):
        return int(self._a)

    def __float__(self):
        return float(self._a)

    def __complex__(self):
        return complex(self._a)

    def __index__(self):
        return self._a.__index__()

    def __repr__(self):
        return repr(self._a).replace('array(', 'array(', 1)

    __str__ = __repr__

    def __copy__(self):
        return wrap(self._a.copy())


def _index(index):
    """An index whose arrays are emulated ones or (copied in, as CuPy does) host ones."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, ndarray):
        return index._a
    return index


for _op in ('add', 'sub', 'mul', 'truediv', 'floordiv', 'mod', 'pow', 'matmul', 'and', 'or',
            'xor', 'lshift', 'rshift', 'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'divmod'):
    setattr(ndarray, f'__{_op}__', _binary(f'__{_op}__'))
    if _op not in ('lt', 'le', 'gt', 'ge', 'eq', 'ne'):
        setattr(ndarray, f'__r{_op}__', _binary(f'__r{_op}__'))
    if _op not in ('lt', 'le', 'gt', 'ge', 'eq', 'ne', 'divmod'):
        setattr(ndarray, f'__i{_op}__', _inplace(f'__i{_op}__'))
for _op in ('neg', 'pos', 'abs', 'invert'):
    setattr(ndarray, f'__{_op}__', _unary(f'__{_op}__'))
ndarray.__hash__ = None


class MemoryPointer:
    """A device address (`.ptr`) on a device, with CuPy's copy methods."""

    def __init__(self, ptr, device_id):
        self.ptr, self.device_id = ptr, device_id

    def __int__(self):
        return self.ptr

    def __add__(self, offset):
        return MemoryPointer(self.ptr + offset, self.device_id)

    def copy_from_device_async(self, src, size, stream=None):
        memory.memmove(self.ptr, src.ptr, size, 'MemoryPointer.copy_from_device_async')

    copy_from_device = copy_from_device_async

    def copy_from_host(self, mem, size):
        dst = memory.view(self.ptr, size, np.uint8, 'MemoryPointer.copy_from_host')
        ctypes.memmove(dst.__array_interface__['data'][0], mem.value if hasattr(mem, 'value')
                       else int(mem), size)

    def memset_async(self, value, size, stream=None):
        memory.view(self.ptr, size, np.uint8, 'MemoryPointer.memset_async')[...] = value


def from_cuda_array_interface(obj):
    """A zero-copy emulated array over another object's device memory."""
    cai = obj.__cuda_array_interface__
    dtype, shape = np.dtype(cai['typestr']), tuple(cai['shape'])
    ptr = cai['data'][0]
    count = int(np.prod(shape)) if shape else 1
    strides = cai.get('strides')
    span = count if strides is None else (
        1 + sum((n - 1) * s // dtype.itemsize for n, s in zip(shape, strides))) if count else 0
    owner, offset, dev = memory.find(ptr, span * dtype.itemsize, '__cuda_array_interface__')
    flat = owner.reshape(-1).view(np.uint8)
    a = np.ndarray(shape, dtype, buffer=flat, offset=offset, strides=strides)
    return ndarray(a, dev)
