"""Helpers the primitive families share: rule registration, zeros, batch-axis moves."""
import numpy as np

from tinyjax.core.array import aval_of  # noqa: F401 (the ops' name for it)
from tinyjax.core.primitive import primitive
from tinyjax.interpreters.base_ops import (  # noqa: F401 (the ops' names for them)
    add_any, broadcast_in_dim, full, move_batch_axis, scalar, zeros)
from tinyjax.interpreters.batching import (  # noqa: F401 (the ops' names for them)
    align_elementwise_batch, batch_size)


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


def check_same_dtypes(op, avals):
    ds = {a.dtype for a in avals}
    if len(ds) > 1:
        shown = ', '.join(f'{a.str_short()}' for a in avals)
        raise TypeError(f'{op} requires arguments to have the same dtypes, got {shown}. '
                        'Convert them first (x.astype(...)), or use tinyjax.numpy, which '
                        'promotes types.')
