"""The interpreters' own zero and add.

A tangent or cotangent of None is a symbolic zero: the interpreters skip it and `add_any`
treats it as the identity. When a value must exist (a zero tangent output, a cotangent of
a fixed dtype, a batch axis moved or broadcast), the interpreters use the four primitives
below. `tinyjax/ops/` installs them here as it defines them (`install`), as JAX's lax
registers its zero-makers with ad_util: this package imports only core, and ops import it.
"""
import numpy as np

from tinyjax.core.array import ArrayImpl, aval_of, default_device


class _Installed:
    """The primitives' binders: add(a, b), convert(x, dtype, weak_type=False),
    broadcast_in_dim(x, shape, dims), transpose(x, perm)."""
    add = convert = broadcast_in_dim = transpose = None


_ops = _Installed()


def install(**binders):
    for name, fn in binders.items():
        if not hasattr(_Installed, name):
            raise ValueError(f'base_ops.install: unknown operation {name!r}')
        setattr(_ops, name, fn)


def add_any(a, b):
    """a + b where None is zero."""
    if a is None:
        return b
    if b is None:
        return a
    return _ops.add(a, b)


def convert(x, dtype, weak_type=False):
    return _ops.convert(x, dtype, weak_type=weak_type)


def scalar(value, dtype, weak=False):
    """A concrete 0-d array (becomes a Literal inside a trace)."""
    dev = default_device()
    return ArrayImpl(dev.put(np.asarray(value, dtype)), dev, weak)


def broadcast_in_dim(x, shape, dims):
    return _ops.broadcast_in_dim(x, shape, dims)


def full(shape, value, dtype, weak=False):
    return broadcast_in_dim(scalar(value, dtype, weak), tuple(shape), ())


def zeros(aval):
    return full(aval.shape, 0, aval.dtype, aval.weak_type)


def move_batch_axis(x, src, dst, size=None):
    """Move x's batch axis from `src` to `dst`; src None broadcasts x to `size` there."""
    shape = aval_of(x).shape
    if src is None:
        out_shape = shape[:dst] + (size,) + shape[dst:]
        dims = tuple(i for i in range(len(out_shape)) if i != dst)
        return _ops.broadcast_in_dim(x, out_shape, dims)
    if src == dst:
        return x
    perm = [i for i in range(len(shape)) if i != src]
    perm.insert(dst, src)
    return _ops.transpose(x, tuple(perm))
