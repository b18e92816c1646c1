"""Array creation: zeros, ones, full, arange, linspace, eye, identity, tri and friends."""
import numpy as np

from tinyjax import dtypes, errors, lax
from tinyjax.core.array import Array
from tinyjax.numpy.conversion import asarray, broadcast_to, convert, _dtype_of
from tinyjax.numpy.ufuncs import where
from tinyjax.ops.layout import takes_out_sharding


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


@takes_out_sharding
def full(shape, fill_value, dtype=None, *, device=None):
    shape = _shape(shape, 'full')
    fv = asarray(fill_value)
    if dtype is not None:      # a Python scalar fill without a dtype stays weakly typed
        dt = _dt(dtype, fv.dtype)
        fv = lax.convert_element_type(fv, dt) if fv.dtype != dt or fv.weak_type else fv
    return broadcast_to(fv, shape, 'full')


@takes_out_sharding
def zeros(shape, dtype=None, *, device=None):
    return full(shape, 0, _dt(dtype, dtypes.default_float()))


@takes_out_sharding
def ones(shape, dtype=None, *, device=None):
    return full(shape, 1, _dt(dtype, dtypes.default_float()))


@takes_out_sharding
def empty(shape, dtype=None, *, device=None):
    return zeros(shape, dtype)


def _like(x, dtype, shape):
    """(dtype, shape, weak) of the result: without a dtype it keeps x's weak type, as in
    JAX (jnp.zeros_like(1.0) is a weakly typed float32)."""
    if not (hasattr(x, 'shape') and hasattr(x, 'dtype')):    # a ShapeDtypeStruct will do
        x = asarray(x)
    weak = dtype is None and bool(getattr(x, 'weak_type', False))
    return (_dt(dtype, dtypes.canonicalize(x.dtype)), tuple(x.shape) if shape is None else shape,
            weak)


@takes_out_sharding
def full_like(a, fill_value, dtype=None, shape=None, *, device=None):
    dt, shape, weak = _like(a, dtype, shape)
    if not weak:
        out = full(shape, fill_value, dt)
    else:
        fv = asarray(fill_value)
        if fv.dtype != dt or not fv.weak_type:
            fv = convert(fv, dt, weak=True)
        out = broadcast_to(fv, _shape(shape, 'full_like'), 'full_like')
    # Inside a shard_map body the result varies along the mesh axes `a` does, as in JAX.
    vma = getattr(getattr(a, 'aval', None), 'vma', None)
    return lax.pvary(out, tuple(sorted(vma, key=str))) if vma else out


@takes_out_sharding
def zeros_like(a, dtype=None, shape=None, *, device=None):
    return full_like(a, 0, dtype, shape)


@takes_out_sharding
def ones_like(a, dtype=None, shape=None, *, device=None):
    return full_like(a, 1, dtype, shape)


@takes_out_sharding
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


@takes_out_sharding
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
    return where(mask, m, asarray(np.asarray(0, m.dtype)))


def triu(m, k=0):
    m = asarray(m)
    mask = tri(m.shape[-2], m.shape[-1], k - 1, dtypes.bool_)
    return where(mask, asarray(np.asarray(0, m.dtype)), m)
