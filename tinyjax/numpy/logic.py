"""Whole-array comparisons and type predicates: isclose, allclose, array_equal,
array_equiv, iscomplex, isreal, iscomplexobj, isrealobj."""

from tinyjax import dtypes
from tinyjax.numpy import reductions, ufuncs
from tinyjax.numpy.conversion import asarray, broadcast_all, promote

__all__ = ['isclose', 'allclose', 'array_equal', 'array_equiv', 'iscomplexobj',
           'isrealobj', 'iscomplex', 'isreal']


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = promote(a, b)
    if not dtypes.is_inexact(a.dtype):
        return ufuncs.equal(a, b)
    a, b = broadcast_all(a, b, op='isclose')
    diff = ufuncs.absolute(ufuncs.subtract(a, b))
    close = ufuncs.less_equal(diff, ufuncs.add(atol, ufuncs.multiply(rtol, ufuncs.absolute(b))))
    # Infinities are close only to themselves.
    both_inf = ufuncs.logical_and(ufuncs.isinf(a), ufuncs.equal(a, b))
    close = ufuncs.logical_or(ufuncs.logical_and(close, ufuncs.isfinite(diff)), both_inf)
    if equal_nan:
        close = ufuncs.logical_or(close, ufuncs.logical_and(ufuncs.isnan(a), ufuncs.isnan(b)))
    return close


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return reductions.all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1, a2, equal_nan=False):
    a1, a2 = asarray(a1), asarray(a2)
    if a1.shape != a2.shape:
        return asarray(False)
    eq = ufuncs.equal(a1, a2)
    if equal_nan:
        eq = ufuncs.logical_or(eq, ufuncs.logical_and(ufuncs.isnan(a1), ufuncs.isnan(a2)))
    return reductions.all(eq)


def array_equiv(a1, a2):
    try:
        return reductions.all(ufuncs.equal(a1, a2))
    except TypeError:
        return asarray(False)


def iscomplexobj(x):
    return dtypes.is_complex(asarray(x).dtype)


def isrealobj(x):
    return not iscomplexobj(x)


def iscomplex(x):
    return ufuncs.not_equal(ufuncs.imag(x), 0)


def isreal(x):
    return ufuncs.equal(ufuncs.imag(x), 0)
