"""lax.reduce_window: the computation (lax.add / max / min / mul, or jnp's ufuncs)
picks a window primitive of tinyjax/ops/windowed.py; mul reduces stacked windows."""
import numpy as np

from tinyjax.lax.conv import padtype_to_pads
from tinyjax.ops import common, reduction, structural
from tinyjax.ops.conv import _dilate
from tinyjax.ops.windowed import _PRIMS, _abstract, _identity, _windows


def _monoid(computation):
    """Which monoid a computation names, or None. lax's functions and jnp's ufuncs."""
    from tinyjax import lax
    import tinyjax.numpy as jnp
    table = {lax.add: 'sum', lax.max: 'max', lax.min: 'min', lax.mul: 'prod',
             jnp.add: 'sum', jnp.maximum: 'max', jnp.minimum: 'min', jnp.multiply: 'prod'}
    try:
        return table.get(computation)
    except TypeError:        # unhashable callables
        return None


def reduce_window(operand, init_value, computation, window_dimensions, window_strides=None,
                  padding='VALID', base_dilation=None, window_dilation=None):
    """lax.reduce_window for a single operand and computation lax.add / max / min / mul."""
    if isinstance(operand, (list, tuple, dict)):
        raise NotImplementedError('reduce_window: tinyjax supports a single operand array; '
                                  'call reduce_window once per array.')
    kind = _monoid(computation)
    name = getattr(computation, '__name__', repr(computation))
    if kind is None:
        raise NotImplementedError(
            f'reduce_window: computation {name} is not supported; tinyjax reduces windows '
            'with lax.add, lax.max, lax.min or lax.mul only (pass one of those, or build the '
            'windows yourself with lax.slice and reduce them).')
    aval = common.aval_of(operand)
    nd = aval.ndim
    window_dimensions = tuple(int(k) for k in window_dimensions)
    window_strides = (1,) * nd if window_strides is None else tuple(int(s) for s in window_strides)
    base_dilation = (1,) * nd if base_dilation is None else tuple(int(d) for d in base_dilation)
    window_dilation = (1,) * nd if window_dilation is None else \
        tuple(int(d) for d in window_dilation)
    if len(window_dimensions) != nd:
        raise TypeError(f'reduce_window got the wrong number of window_dimensions for '
                        f'operand: got operand shape {aval.shape} with window_dimensions '
                        f'{window_dimensions}; pass one per operand dimension.')
    if isinstance(padding, str):
        padding = padtype_to_pads(aval.shape, [_dilate(k, d) for k, d in
                                               zip(window_dimensions, window_dilation)],
                                  window_strides, padding)
    params = dict(window_dimensions=window_dimensions, window_strides=window_strides,
                  padding=tuple((int(lo), int(hi)) for lo, hi in padding),
                  base_dilation=base_dilation, window_dilation=window_dilation)
    try:
        init = np.asarray(init_value)
    except TypeError:
        raise TypeError('reduce_window: init_value must be a concrete scalar (0 for lax.add, '
                        '-inf for lax.max, ...), not a traced value') from None
    if init.shape != ():
        raise TypeError(f'reduce_window: init_value must be a scalar, got shape {init.shape}')
    if kind == 'prod':
        xs = _windows(operand, 1, out_shape=_abstract('reduce_window')(aval, **params).shape,
                      **params)
        out = reduction.reduce_prod(xs, (0,))
    else:
        _abstract(f'reduce_window_{kind}')(aval, **params)
        out = _PRIMS[kind].bind(operand, **params)
    ident = _identity(kind, aval.dtype)
    if init.item() == ident.item():
        return out
    # A non-identity init enters each window once (as JAX computes it on the CPU).
    ew = structural.elementwise()
    c = common.scalar(init.astype(aval.dtype), aval.dtype)
    return {'sum': ew.add, 'prod': ew.mul, 'max': ew.max, 'min': ew.min}[kind](out, c)
