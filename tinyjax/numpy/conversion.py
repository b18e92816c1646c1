"""Array conversion, JAX's type promotion and NumPy broadcasting for tinyjax.numpy."""
import numpy as np

from tinyjax import dtypes, lax
from tinyjax.api import device_put
from tinyjax.core.array import Array, ArrayImpl, default_device
from tinyjax.core.trace import eager_apply
from tinyjax.ops import common
from tinyjax.ops.elementwise import convert_p


def _device_put(value, weak=False):
    dev = default_device()
    return ArrayImpl(dev.put(value), dev, weak)


def asarray(a, dtype=None, order=None, *, copy=None, device=None):
    out = _asarray(a, dtype)
    return out if device is None else _to_device(out, device)


def _stack_leading(xs):
    """Arrays of one dtype stacked along a new leading axis (jnp.stack's rule)."""
    if len({x.shape for x in xs}) > 1:
        raise ValueError(f'All input arrays must have the same shape, got {[x.shape for x in xs]}')
    return lax.concatenate([lax.expand_dims(x, (0,)) for x in xs], 0)


def _to_device(x, device):
    return device_put(x, device)


def _asarray(a, dtype=None):
    if dtype is not None:
        dtype = dtypes.canonicalize(_dtype_of(dtype))
    if isinstance(a, Array):
        if dtype is not None and (a.dtype != dtype or a.weak_type):
            return lax.convert_element_type(a, dtype)
        return a
    if isinstance(a, (bool, int, float, complex)):
        if dtype is None:
            dt = dtypes.python_scalar_dtype(a)
            if isinstance(a, int) and not isinstance(a, bool):
                info = np.iinfo(dt)
                if not info.min <= a <= info.max:
                    raise OverflowError(f'Python int {a} too large to convert to {dt.name}')
            return _device_put(np.asarray(a, dt), weak=not isinstance(a, bool))
        return _device_put(np.asarray(a).astype(dtype))
    if isinstance(a, (list, tuple)):
        if any(isinstance(x, Array) or isinstance(x, (list, tuple)) and _has_array(x) for x in a):
            out = _stack_leading(promote(*[asarray(x) for x in a]))
            return out if dtype is None else asarray(out, dtype)
        value = np.asarray(a)
        if value.dtype == object:
            raise TypeError(f'jnp.asarray: cannot convert a ragged or mixed sequence: {a!r}')
    elif hasattr(a, '__cuda_array_interface__') or (hasattr(a, '__dlpack__') and not isinstance(a, np.ndarray)):
        dev = default_device()
        out = ArrayImpl(dev.import_buffer(a), dev, False)
        want = dtype if dtype is not None else dtypes.canonicalize(out.dtype)
        return out if out.dtype == want else convert(out, want)
    else:
        value = np.asarray(a)
        if value.dtype == object:
            raise TypeError(f'Value {a!r} of type {type(a).__name__} is not a valid JAX array type')
    dt = dtype if dtype is not None else dtypes.canonicalize(value.dtype)
    if value.dtype.kind == 'U' or value.dtype.kind == 'S':
        raise TypeError(f'jnp.asarray: strings are not a valid array dtype ({value.dtype})')
    return _device_put(value.astype(dt, copy=False))


def array(object, dtype=None, copy=True, order='K', ndmin=0, *, device=None):
    out = asarray(object, dtype, device=device)
    if isinstance(object, Array) and copy and isinstance(out, ArrayImpl) and out is object:
        out = ArrayImpl(out.device.xp.array(out._buf, copy=True), out.device, out.weak_type)
    while out.ndim < ndmin:
        out = lax.expand_dims(out, (0,))
    return out


def _has_array(seq):
    return any(isinstance(x, Array) or isinstance(x, (list, tuple)) and _has_array(x) for x in seq)


def _dtype_of(d):
    if isinstance(d, str) and d == 'bfloat16':
        return dtypes.bfloat16
    return np.dtype(d)


def result_type(*args):
    return dtypes.result_type(*args)


_SCALARS = (bool, int, float, complex)


def promote(*args):
    """Convert args to arrays of one dtype by JAX's promotion (Python scalars weak)."""
    xs = [a if isinstance(a, _SCALARS) else asarray(a) for a in args]
    if len(xs) < 2:
        return [asarray(x) for x in xs]
    pairs = [(dtypes.python_scalar_dtype(x), not isinstance(x, bool)) if isinstance(x, _SCALARS)
             else (x.dtype, x.weak_type) for x in xs]
    dt, weak = dtypes.result_type_weak(*pairs)
    out = []
    for x in xs:
        if isinstance(x, _SCALARS):
            # Made directly in the result type (C-cast like a convert), not converted after.
            host = asarray(x)._buf if isinstance(x, int) and not isinstance(x, bool) and \
                not _fits_int(x) else np.asarray(x, dtypes.python_scalar_dtype(x))
            out.append(_device_put(np.asarray(host).astype(dt), weak and not isinstance(x, bool)))
        else:
            out.append(x if x.dtype == dt and x.weak_type == weak else convert(x, dt, weak))
    return out


def _fits_int(x):
    info = np.iinfo(dtypes.default_int())
    return info.min <= x <= info.max


def convert(x, dtype, weak=False):
    """convert_element_type; concrete inputs convert now, so traces hold literals."""
    if isinstance(x, ArrayImpl):
        return eager_apply(convert_p, [x], dict(new_dtype=np.dtype(dtype), weak_type=bool(weak)))[0]
    return lax._convert(x, dtype, weak)


def promote_inexact(*args):
    """promote(), then to the default float type when the result is not inexact."""
    xs = promote(*args)
    if xs and not dtypes.is_inexact(xs[0].dtype):
        weak = all(x.weak_type for x in xs)
        xs = [convert(x, dtypes.default_float(), weak) for x in xs]
    return xs


def broadcast_shapes(*shapes, op='broadcast_shapes', error=ValueError):
    """The broadcast shape. JAX raises TypeError for an elementwise operator's operands of
    one rank (`x + y`, jnp.maximum: `error`), and ValueError when their ranks differ, for
    jnp.where and for broadcast_arrays."""
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        shown = ', '.join(str(tuple(s)) for s in shapes)
        if len({len(s) for s in shapes if len(s)}) > 1:
            error = ValueError
        raise error(f'{op} got incompatible shapes for broadcasting: {shown}. Each axis must '
                    'match or be 1, counting from the last axis: reshape or index one '
                    'operand (x[:, None]) so that they line up.') from None


def broadcast_to(x, shape, op='broadcast_to'):
    x = asarray(x)
    shape = tuple(int(s) for s in ((shape,) if np.ndim(shape) == 0 else shape))
    if x.shape == shape:
        return x
    nd = len(shape)
    if x.ndim > nd or any(a not in (1, b) for a, b in zip(x.shape[::-1], shape[::-1])):
        raise ValueError(f'{op}: cannot broadcast an array of shape {x.shape} to shape {shape}; '
                         'each axis must match or be 1, counting from the last axis')
    return lax.broadcast_in_dim(x, shape, tuple(range(nd - x.ndim, nd)))


def broadcast_all(*xs, op='broadcast', keep_scalars=True, error=ValueError):
    shape = broadcast_shapes(*[x.shape for x in xs], op=op, error=error)
    return [x if (keep_scalars and x.ndim == 0) else broadcast_to(x, shape, op) for x in xs]


def elementwise(fn, name, inexact=False):
    """A jnp function: convert, promote, broadcast, then the lax function."""
    def f(*args):
        xs = promote_inexact(*args) if inexact else promote(*args)
        if len(xs) > 1:
            xs = broadcast_all(*xs, op=name, error=TypeError)
        return fn(*xs)
    f.__name__ = name
    f.__qualname__ = name
    return f


def canonicalize_axis(axis, ndim, op='axis'):
    return common.normalize_axis(int(axis), ndim, op)


def canonicalize_axes(axis, ndim, op):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = tuple(canonicalize_axis(a, ndim, op) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f'{op}: repeated axis in {axis}')
    return out


def astype(x, dtype, /, *, copy=False, device=None):
    out = asarray(x).astype(dtype)
    if device is not None:
        out = device_put(out, device)
    return out


def copy(a, order=None):
    return array(a, copy=True)
