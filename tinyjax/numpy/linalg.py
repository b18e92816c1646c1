"""tinyjax.numpy.linalg: norms and products built from the core primitives."""
from tinyjax import lax
from tinyjax.numpy.core import asarray
from tinyjax.numpy.products import matmul  # noqa: F401
from tinyjax.numpy import reductions, ufuncs


def norm(x, ord=None, axis=None, keepdims=False):
    x = asarray(x)
    if not (x.dtype.kind in 'fc' or x.dtype.name == 'bfloat16'):
        x = x.astype('float32')
    if ord is None or ord == 2 and (axis is not None and not isinstance(axis, tuple)) or ord == 'fro':
        return lax.sqrt(reductions.sum(lax.mul(x, x), axis=axis, keepdims=keepdims))
    if ord in (float('inf'), 'inf'):
        return reductions.max(ufuncs.absolute(x), axis=axis, keepdims=keepdims)
    if ord in (-float('inf'),):
        return reductions.min(ufuncs.absolute(x), axis=axis, keepdims=keepdims)
    if ord == 1 and (axis is None and x.ndim == 1 or isinstance(axis, int)):
        return reductions.sum(ufuncs.absolute(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return reductions.sum(lax.convert_element_type(lax.ne(x, ufuncs._const(x, 0)), x.dtype),
                              axis=axis, keepdims=keepdims)
    if isinstance(ord, (int, float)) and (x.ndim == 1 or isinstance(axis, int)):
        p = ufuncs._const(x, ord)
        s = reductions.sum(ufuncs.power(ufuncs.absolute(x), p), axis=axis, keepdims=keepdims)
        return ufuncs.power(s, ufuncs.reciprocal(p))
    raise ValueError(f'norm: ord={ord!r} for an array of rank {x.ndim} is not supported; '
                     'use ord=None, 1, 2, inf, -inf, 0, a number, or "fro"')
