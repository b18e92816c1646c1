"""nonzero: the indices of an array's nonzero elements (concrete values, or `size=`).
Below the ufuncs (where(condition) is nonzero) and manipulation (flatnonzero, argwhere)."""
import numpy as np

from tinyjax import dtypes, errors
from tinyjax.numpy.conversion import asarray

__all__ = ['nonzero']


def nonzero(a, *, size=None, fill_value=None):
    a = asarray(a)
    try:
        v = np.asarray(a)
    except TypeError:
        raise errors.ConcretizationTypeError(a, 'jnp.nonzero without size= (its output shape '
                                             'depends on the values)') from None
    idx = np.nonzero(v)
    if size is not None:
        fill = 0 if fill_value is None else fill_value
        idx = tuple(np.concatenate([i[:size], np.full(max(size - len(i), 0), fill)]) for i in idx)
    return tuple(asarray(i.astype(dtypes.default_int())) for i in idx)
