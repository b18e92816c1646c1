"""Helpers the primitive families share: rule registration, zeros, batch-axis moves."""
import numpy as np

from tinyjax.core.array import aval_of  # noqa: F401 (the ops' name for it)
from tinyjax.core.primitive import primitive
from tinyjax.interpreters.base_ops import (  # noqa: F401 (the ops' names for them)
    add_any, broadcast_in_dim, full, move_batch_axis, scalar, zeros)


def define(name, abstract_eval, impl, jvp=None, transpose=None, batch=None,
           multiple_results=False):
    """Create a primitive with its rules side by side."""
    p = primitive(name, multiple_results)
    p.abstract_eval, p.impl, p.jvp, p.transpose, p.batch = abstract_eval, impl, jvp, transpose, batch
    return p


def bilinear_jvp(get_prim):
    """The JVP rule of a primitive linear in each of its two operands (dot_general, a
    convolution): d(f(a, b)) = f(da, b) + f(a, db). get_prim() names the primitive,
    which is defined after its rules."""
    def rule(primals, tangents, **params):
        prim = get_prim()
        (lhs, rhs), (tl, tr) = primals, tangents
        parts = ([prim.bind(tl, rhs, **params)] if tl is not None else []) + \
                ([prim.bind(lhs, tr, **params)] if tr is not None else [])
        if not parts:
            return prim.bind(lhs, rhs, **params), None
        tangent = parts[0] if len(parts) == 1 else add_any(*parts)
        return prim.bind(lhs, rhs, **params), tangent
    return rule


def zeros_like(x):
    return zeros(aval_of(x))


def normalize_axis(axis, ndim, op):
    if not -ndim <= axis < max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise np.exceptions.AxisError(f'{op}: axis {axis} is out of bounds for an array of rank {ndim} '
                         f'(valid axes are {-ndim}..{ndim - 1})')
    return axis % ndim if ndim else 0


def batch_size(args, dims):
    for x, d in zip(args, dims):
        if d is not None:
            return aval_of(x).shape[d]
    raise ValueError('no batched argument')


def check_same_dtypes(op, avals):
    ds = {a.dtype for a in avals}
    if len(ds) > 1:
        shown = ', '.join(f'{a.str_short()}' for a in avals)
        raise TypeError(f'{op} requires arguments to have the same dtypes, got {shown}. '
                        'Convert them first (x.astype(...)), or use tinyjax.numpy, which '
                        'promotes types.')


def align_elementwise_batch(args, dims):
    """Operands of an elementwise op with the batch axis moved to the front: unbatched
    0-d operands stay 0-d (they broadcast), every other operand gets the full shape."""
    size = batch_size(args, dims)
    per_example = [aval_of(x).shape if d is None else
                   aval_of(x).shape[:d] + aval_of(x).shape[d + 1:] for x, d in zip(args, dims)]
    shape = next((s for s in per_example if s != ()), ())
    full_shape = (size,) + shape
    out = []
    for x, d, s in zip(args, dims, per_example):
        if d is None:
            out.append(x if s == () else
                       broadcast_in_dim(x, full_shape, tuple(range(1, len(full_shape)))))
        else:
            x = move_batch_axis(x, d, 0)
            out.append(x if s == shape else broadcast_in_dim(x, full_shape, (0,)))
    return out
