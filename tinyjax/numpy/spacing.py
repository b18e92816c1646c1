"""Evenly spaced values: linspace, logspace, geomspace."""
import numpy as np

from tinyjax import dtypes, lax
from tinyjax.numpy import manipulation, ufuncs
from tinyjax.numpy.conversion import asarray, broadcast_to
from tinyjax.numpy.creation import _dt
from tinyjax.numpy.manipulation import concatenate, moveaxis
from tinyjax.numpy.ufuncs import power

__all__ = ['linspace', 'logspace', 'geomspace']


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
            out = concatenate([lax.slice_in_dim(out, 0, num - 1), lax.expand_dims(stop, (0,))], 0)
    else:
        step = asarray(np.asarray(np.nan, comp))
        out = s
    out = moveaxis(out, 0, axis) if axis != 0 else out
    out_dt = dt or comp
    if dtypes.is_int(out_dt):
        out = lax.floor(out)
    out = lax._convert(out, out_dt)
    return (out, step) if retstep else out


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    lin = linspace(start, stop, num, endpoint, dtype=None, axis=axis)
    out = power(asarray(base, lin.dtype), lin)
    return out if dtype is None else out.astype(dtype)


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
