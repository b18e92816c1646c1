"""Array creation: zeros, ones, full, arange, linspace, eye, identity, tri and friends."""
import numpy as np

from tinyjax import dtypes, errors, lax
from tinyjax.core.array import Array
from tinyjax.numpy import manipulation, ufuncs
from tinyjax.numpy.conversion import asarray, broadcast_to, _dtype_of


def _shape(shape, op):
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    out = []
    for s in shape:
        try:
            s = int(s.__index__())
        except Exception:
            raise TypeError(f'{op}: shapes must be tuples of integers, got {shape!r}; shapes '
                            'must be concrete (static) under jit') from None
        if s < 0:
            raise TypeError(f'{op}: negative dimensions are not allowed, got shape {shape}')
        out.append(s)
    return tuple(out)


def _dt(dtype, default):
    return dtypes.canonicalize(_dtype_of(dtype)) if dtype is not None else default


def full(shape, fill_value, dtype=None, *, device=None):
    shape = _shape(shape, 'full')
    fv = asarray(fill_value)
    if dtype is not None:      # a Python scalar fill without a dtype stays weakly typed
        dt = _dt(dtype, fv.dtype)
        fv = lax.convert_element_type(fv, dt) if fv.dtype != dt or fv.weak_type else fv
    return broadcast_to(fv, shape, 'full')


def zeros(shape, dtype=None, *, device=None):
    return full(shape, 0, _dt(dtype, dtypes.default_float()))


def ones(shape, dtype=None, *, device=None):
    return full(shape, 1, _dt(dtype, dtypes.default_float()))


def empty(shape, dtype=None, *, device=None):
    return zeros(shape, dtype)


def _like(x, dtype, shape):
    x = asarray(x)
    return (_dt(dtype, x.dtype), x.shape if shape is None else shape)


def full_like(a, fill_value, dtype=None, shape=None, *, device=None):
    dt, shape = _like(a, dtype, shape)
    return full(shape, fill_value, dt)


def zeros_like(a, dtype=None, shape=None, *, device=None):
    return full_like(a, 0, dtype, shape)


def ones_like(a, dtype=None, shape=None, *, device=None):
    return full_like(a, 1, dtype, shape)


def empty_like(a, dtype=None, shape=None, *, device=None):
    return zeros_like(a, dtype, shape)


def _concrete(v, op, what):
    if isinstance(v, Array):
        try:
            return v.item()
        except errors.ConcretizationTypeError:
            raise errors.ConcretizationTypeError(
                v, f"the jnp.{op} argument '{what}' (it decides the result's shape)") from None
    return v


def arange(start, stop=None, step=None, dtype=None, *, device=None):
    start = _concrete(start, 'arange', 'start' if stop is not None else 'stop')
    stop = _concrete(stop, 'arange', 'stop')
    step = _concrete(step, 'arange', 'step')
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                     for v in (start, stop, step))
        dt = dtypes.default_int() if is_int else dtypes.default_float()
    else:
        dt = _dt(dtype, None)
    n = int(max(np.ceil((stop - start) / step), 0))
    if dtypes.is_int(dt) and start == 0 and step == 1:
        return lax.iota(dt, n)
    return asarray(np.arange(start, stop, step).astype(dt))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    num = int(num)
    if num < 0:
        raise ValueError(f'linspace: number of samples, {num}, must be non-negative.')
    start, stop = asarray(start), asarray(stop)
    dt = _dt(dtype, None)
    comp = dtypes.result_type_weak((start.dtype, start.weak_type), (stop.dtype, stop.weak_type))[0]
    if not dtypes.is_inexact(comp):
        comp = dtypes.default_float()
    start, stop = lax._convert(start, comp), lax._convert(stop, comp)
    shape = np.broadcast_shapes(start.shape, stop.shape)
    start, stop = broadcast_to(start, shape), broadcast_to(stop, shape)
    div = (num - 1) if endpoint else num
    out_shape = (num,) + shape
    iota = lax.broadcasted_iota(comp, out_shape, 0)
    bdims = tuple(range(1, len(out_shape)))
    s = lax.broadcast_in_dim(start, out_shape, bdims)
    e = lax.broadcast_in_dim(stop, out_shape, bdims)
    if div > 0:
        step = lax.div(lax.sub(stop, start), asarray(np.asarray(div, comp)))
        # start*(1-t) + stop*t with t = k/div: JAX's formula, so the values match bit for bit.
        t = lax.div(iota, asarray(np.asarray(div, comp)))
        out = lax.add(lax.mul(s, lax.sub(asarray(np.asarray(1, comp)), t)), lax.mul(e, t))
        if endpoint and num > 1:
            from tinyjax.numpy.manipulation import concatenate
            out = concatenate([lax.slice_in_dim(out, 0, num - 1), lax.expand_dims(stop, (0,))], 0)
    else:
        step = asarray(np.asarray(np.nan, comp))
        out = s
    from tinyjax.numpy.manipulation import moveaxis
    out = moveaxis(out, 0, axis) if axis != 0 else out
    out_dt = dt or comp
    if dtypes.is_int(out_dt):
        out = lax.floor(out)
    out = lax._convert(out, out_dt)
    return (out, step) if retstep else out


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    from tinyjax.numpy.ufuncs import power
    lin = linspace(start, stop, num, endpoint, dtype=None, axis=axis)
    out = power(asarray(base, lin.dtype), lin)
    return out if dtype is None else out.astype(dtype)


def eye(N, M=None, k=0, dtype=None, *, device=None):
    M = N if M is None else M
    N, M, k = int(_concrete(N, 'eye', 'N')), int(_concrete(M, 'eye', 'M')), int(_concrete(k, 'eye', 'k'))
    if N < 0 or M < 0:
        raise ValueError(f'eye: negative dimensions are not allowed, got N={N}, M={M}')
    dt = _dt(dtype, dtypes.default_float())
    rows = lax.broadcasted_iota(dtypes.int32, (N, M), 0)
    cols = lax.broadcasted_iota(dtypes.int32, (N, M), 1)
    mask = lax.eq(lax.add(rows, asarray(np.int32(k))), cols)
    return lax.convert_element_type(mask, dt)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    M = N if M is None else M
    rows = lax.broadcasted_iota(dtypes.int32, (N, M), 0)
    cols = lax.broadcasted_iota(dtypes.int32, (N, M), 1)
    return lax.convert_element_type(lax.ge(lax.add(rows, asarray(np.int32(k))), cols),
                                    _dt(dtype, dtypes.default_float()))


def tril(m, k=0):
    m = asarray(m)
    mask = tri(m.shape[-2], m.shape[-1], k, dtypes.bool_)
    from tinyjax.numpy.ufuncs import where
    return where(mask, m, asarray(np.asarray(0, m.dtype)))


def triu(m, k=0):
    m = asarray(m)
    mask = tri(m.shape[-2], m.shape[-1], k - 1, dtypes.bool_)
    from tinyjax.numpy.ufuncs import where
    return where(mask, asarray(np.asarray(0, m.dtype)), m)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """num points spaced evenly on a log scale from start to stop (same sign)."""
    dt = dtypes.default_float() if dtype is None else np.dtype(dtype)
    start, stop = asarray(start).astype(dt), asarray(stop).astype(dt)
    sign = ufuncs.sign(start)
    out = sign * logspace(ufuncs.log10(start * sign), ufuncs.log10(stop * sign), num,
                                   endpoint=endpoint, base=10.0, dtype=dt, axis=0)
    if num > 0:       # the ends exactly, as NumPy gives them
        out = out.at[0].set(start)
        if endpoint and num > 1:
            out = out.at[-1].set(stop)
    return manipulation.moveaxis(out, 0, axis) if axis else out
