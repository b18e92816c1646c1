"""Set routines over sorted values: isin, intersect1d (with size / fill_value).
(unique and its variants live in sorting.py.)"""

import numpy as np

from tinyjax import dtypes
from tinyjax.numpy import creation, manipulation, reductions, sorting, ufuncs
from tinyjax.numpy.conversion import asarray, promote
from tinyjax.numpy.reductions import any as _any

__all__ = ['isin', 'intersect1d']


def isin(element, test_elements, assume_unique=False, invert=False, *, method='auto'):
    element = asarray(element)
    tests = manipulation.ravel(asarray(test_elements))
    found = _any(element[..., None] == tests, axis=-1)
    return ~found if invert else found


def intersect1d(ar1, ar2, assume_unique=False, return_indices=False, *, size=None,
                fill_value=None):
    """Sorted unique values in both arrays; size= pads to a fixed length (works under jit)."""
    a1, a2 = promote(asarray(ar1), asarray(ar2))
    a1, a2 = manipulation.ravel(a1), manipulation.ravel(a2)
    n1, n2 = a1.shape[0], a2.shape[0]
    order1 = sorting.argsort(a1, stable=True)
    s1 = a1[order1]
    first = manipulation.concatenate([asarray([True]), s1[1:] != s1[:-1]]) if n1 else \
        creation.zeros((0,), bool)
    hit = s1[:, None] == a2[None, :]
    keep = first & reductions.any(hit, axis=1) if n2 else first & False
    if size is None:
        try:
            k = np.asarray(keep)
        except TypeError:
            from tinyjax import errors
            raise errors.ConcretizationTypeError(keep, 'jnp.intersect1d without size=') from None
        pick = np.nonzero(k)[0]
        vals = s1[pick]
        if not return_indices:
            return vals
        i2 = reductions.argmax(hit[pick], axis=1) if len(pick) else creation.zeros((0,), int)
        return vals, order1[pick].astype(dtypes.default_int()), i2.astype(dtypes.default_int())
    num = reductions.sum(keep)
    pick = sorting.argsort(~keep, stable=True)
    if size > n1:
        pick = manipulation.concatenate([pick, creation.zeros(size - n1, pick.dtype)])
    pick = pick[:size]
    valid = creation.arange(size) < num
    vals = s1[pick] if n1 else creation.zeros(size, a1.dtype)
    if fill_value is None:
        fill = ufuncs.where(num > 0, reductions.min(ufuncs.where(valid, vals, vals.max()))
                            if size else 0, 0).astype(a1.dtype)
    else:
        fill = asarray(fill_value, a1.dtype)
    vals = ufuncs.where(valid, vals, fill)
    if not return_indices:
        return vals
    i1 = ufuncs.where(valid, order1[pick] if n1 else 0, n1).astype(dtypes.default_int())
    i2 = reductions.argmax(hit[pick], axis=1) if n1 and n2 else creation.zeros(size, int)
    i2 = ufuncs.where(valid, i2, n2).astype(dtypes.default_int())
    return vals, i1, i2
