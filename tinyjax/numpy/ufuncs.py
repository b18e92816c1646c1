"""Elementwise functions of tinyjax.numpy, with JAX's promotion and broadcasting."""
import math as _math

import numpy as np

from tinyjax import dtypes, lax
from tinyjax.lax import windowed as lax_windowed
from tinyjax.ops import complex_parts
from tinyjax.numpy.conversion import asarray, broadcast_all, broadcast_to, elementwise, promote, promote_inexact
from tinyjax.numpy.searching import nonzero


def _is_float(x):
    return dtypes.is_inexact(x.dtype)


def _const(x, v):
    return asarray(np.asarray(v, x.dtype))


add = elementwise(lambda x, y: lax.bitwise_or(x, y) if x.dtype == dtypes.bool_ else lax.add(x, y), 'add')
subtract = elementwise(lax.sub, 'subtract')
multiply = elementwise(lambda x, y: lax.bitwise_and(x, y) if x.dtype == dtypes.bool_ else lax.mul(x, y), 'multiply')
true_divide = divide = elementwise(lax.div, 'true_divide', inexact=True)
maximum = elementwise(lax.max, 'maximum')
minimum = elementwise(lax.min, 'minimum')
arctan2 = elementwise(lax.atan2, 'arctan2', inexact=True)
nextafter = elementwise(lax.nextafter, 'nextafter', inexact=True)
equal = elementwise(lax.eq, 'equal')
not_equal = elementwise(lax.ne, 'not_equal')
less = elementwise(lax.lt, 'less')
less_equal = elementwise(lax.le, 'less_equal')
greater = elementwise(lax.gt, 'greater')
greater_equal = elementwise(lax.ge, 'greater_equal')
bitwise_and = elementwise(lax.bitwise_and, 'bitwise_and')
bitwise_or = elementwise(lax.bitwise_or, 'bitwise_or')
bitwise_xor = elementwise(lax.bitwise_xor, 'bitwise_xor')
left_shift = elementwise(lax.shift_left, 'left_shift')


def _right_shift(x, y):
    return lax.shift_right_logical(x, y) if dtypes.is_unsigned(x.dtype) else \
        lax.shift_right_arithmetic(x, y)


right_shift = elementwise(_right_shift, 'right_shift')


def _to_bool(x):
    x = asarray(x)
    return x if x.dtype == dtypes.bool_ else lax.ne(x, _const(x, 0))


def logical_and(x, y):
    return bitwise_and(_to_bool(x), _to_bool(y))


def logical_or(x, y):
    return bitwise_or(_to_bool(x), _to_bool(y))


def logical_xor(x, y):
    return bitwise_xor(_to_bool(x), _to_bool(y))


def logical_not(x):
    return lax.bitwise_not(_to_bool(x))


def bitwise_not(x):
    return lax.bitwise_not(asarray(x))


invert = bitwise_not


def _unary(fn, name, inexact=True):
    def f(x):
        (x,) = promote_inexact(x) if inexact else promote(x)
        return fn(x)
    f.__name__ = f.__qualname__ = name
    return f


exp = _unary(lax.exp, 'exp')
exp2 = _unary(lax.exp2, 'exp2')
expm1 = _unary(lax.expm1, 'expm1')
log = _unary(lax.log, 'log')
log1p = _unary(lax.log1p, 'log1p')
def _log_base(x, base):
    lx = lax.log(x)
    if not dtypes.is_complex(x.dtype):
        return lax.div(lx, _const(x, _math.log(base)))
    # Scale each part by the real log(base): a complex division would turn log(0) =
    # -inf+0j into -inf+nanj.
    re, im = complex_parts.real(lx), complex_parts.imag(lx)
    c = _const(re, _math.log(base))
    return complex_parts.complex_(lax.div(re, c), lax.div(im, c))


log2 = _unary(lambda x: _log_base(x, 2), 'log2')
log10 = _unary(lambda x: _log_base(x, 10), 'log10')
sqrt = _unary(lax.sqrt, 'sqrt')
cbrt = _unary(lax.cbrt, 'cbrt')
sin, cos, tan = _unary(lax.sin, 'sin'), _unary(lax.cos, 'cos'), _unary(lax.tan, 'tan')
arcsin, arccos, arctan = _unary(lax.asin, 'arcsin'), _unary(lax.acos, 'arccos'), _unary(lax.atan, 'arctan')
sinh, cosh, tanh = _unary(lax.sinh, 'sinh'), _unary(lax.cosh, 'cosh'), _unary(lax.tanh, 'tanh')
arcsinh, arccosh, arctanh = (_unary(lax.asinh, 'arcsinh'), _unary(lax.acosh, 'arccosh'),
                             _unary(lax.atanh, 'arctanh'))
asin, acos, atan, asinh, acosh, atanh = arcsin, arccos, arctan, arcsinh, arccosh, arctanh
atan2 = arctan2
negative = _unary(lambda x: lax.neg(x) if x.dtype != dtypes.bool_ else _bool_neg(x), 'negative', False)
positive = _unary(lambda x: x, 'positive', False)
sign = _unary(lax.sign, 'sign', False)
square = _unary(lambda x: lax.square(x if x.dtype != dtypes.bool_ else lax._convert(x, dtypes.default_int())), 'square', False)
floor = _unary(lambda x: lax.floor(x) if _is_float(x) else x, 'floor', False)
ceil = _unary(lambda x: lax.ceil(x) if _is_float(x) else x, 'ceil', False)
trunc = _unary(lambda x: lax.mul(lax.sign(x), lax.floor(lax.abs(x))) if _is_float(x) else x,
               'trunc', False)
rint = _unary(lambda x: lax.round(x, 1) if _is_float(x) else x, 'rint', False)
fix = trunc
isfinite = _unary(lambda x: lax.is_finite(x) if _is_float(x) else lax.eq(x, x), 'isfinite', False)
isnan = _unary(lambda x: lax.ne(x, x), 'isnan', False)
reciprocal = _unary(lambda x: lax.div(_const(x, 1), x), 'reciprocal', False)
deg2rad = radians = _unary(lambda x: lax.mul(x, _const(x, np.pi / 180)), 'deg2rad')
rad2deg = degrees = _unary(lambda x: lax.mul(x, _const(x, 180 / np.pi)), 'rad2deg')


def _bool_neg(x):
    raise TypeError('negative does not accept bool; use logical_not (~x) instead')


def absolute(x):
    x = asarray(x)
    if x.dtype == dtypes.bool_ or dtypes.is_unsigned(x.dtype):
        return x
    return lax.abs(x)


abs = fabs = absolute


def isinf(x):
    x = asarray(x)
    if not _is_float(x):
        return lax.ne(x, x)
    if dtypes.is_complex(x.dtype):
        return lax.bitwise_or(isinf(complex_parts.real(x)), isinf(complex_parts.imag(x)))
    return lax.eq(lax.abs(x), _const(x, np.inf))


def isposinf(x):
    x = asarray(x)
    return lax.eq(x, _const(x, np.inf)) if _is_float(x) else lax.ne(x, x)


def isneginf(x):
    x = asarray(x)
    return lax.eq(x, _const(x, -np.inf)) if _is_float(x) else lax.ne(x, x)


def signbit(x):
    x = asarray(x)
    if not _is_float(x):
        return lax.lt(x, _const(x, 0))
    # -0.0 and negative NaN have the bit set: compare the sign of 1/x for zeros.
    neg = lax.lt(x, _const(x, 0))
    zero_neg = lax.bitwise_and(lax.eq(x, _const(x, 0)), lax.lt(lax.div(_const(x, 1), x), _const(x, 0)))
    return lax.bitwise_or(neg, zero_neg)


def round(a, decimals=0, out=None):
    a = asarray(a)
    if not _is_float(a):
        if decimals >= 0:
            return a
        f = _const(a, 10 ** -decimals)
        return lax.mul(lax.div(lax.add(a, lax.div(f, _const(a, 2))), f), f)
    if decimals == 0:
        return lax.round(a, 1)
    f = _const(a, 10.0 ** decimals)
    return lax.div(lax.round(lax.mul(a, f), 1), f)


around = round


def floor_divide(x, y):
    x, y = broadcast_all(*promote(x, y), op='floor_divide', error=TypeError)
    if _is_float(x):
        return lax.floor(lax.div(x, y))
    if dtypes.is_unsigned(x.dtype) or x.dtype == dtypes.bool_:
        return lax.div(x, y)
    q = lax.div(x, y)
    r = lax.rem(x, y)
    # Round toward -inf where x and y differ in sign (sign(0) being its own): x // 0 is
    # lax.div's -1 for x == 0 and -2 otherwise, as JAX gives.
    zero = _const(r, 0)
    signs_differ = lax.bitwise_or(lax.ne(lax.lt(r, zero), lax.lt(y, zero)), lax.eq(y, zero))
    adjust = lax.bitwise_and(lax.ne(r, zero), signs_differ)
    return lax.select(adjust, lax.sub(q, _const(q, 1)), q)


def _zero_where_divisor_zero(r, y):
    """Integer x % 0 and fmod(x, 0) are 0 in JAX (lax.rem alone gives x)."""
    return lax.select(lax.eq(y, _const(y, 0)), _const(r, 0), r)


def remainder(x, y):
    x, y = broadcast_all(*promote(x, y), op='remainder', error=TypeError)
    r = lax.rem(x, y)
    if _is_float(x):
        fix = lax.bitwise_and(lax.ne(r, _const(r, 0)), lax.ne(lax.lt(r, _const(r, 0)), lax.lt(y, _const(y, 0))))
        return lax.select(fix, lax.add(r, y), r)
    if not dtypes.is_unsigned(x.dtype) and x.dtype != dtypes.bool_:
        fix = lax.bitwise_and(lax.ne(r, _const(r, 0)), lax.ne(lax.lt(r, _const(r, 0)), lax.lt(y, _const(y, 0))))
        r = lax.select(fix, lax.add(r, y), r)
    return _zero_where_divisor_zero(r, y)


mod = remainder


def fmod(x, y):
    x, y = broadcast_all(*promote(x, y), op='fmod', error=TypeError)
    return lax.rem(x, y) if _is_float(x) else _zero_where_divisor_zero(lax.rem(x, y), y)


def divmod(x, y):
    return floor_divide(x, y), remainder(x, y)


def power(x, y):
    if isinstance(y, int) and not isinstance(y, bool) and not isinstance(x, (int, float)):
        (x,) = promote(x)
        if y < 0 and not _is_float(x):
            raise TypeError(f'Integers cannot be raised to negative powers, got '
                            f'integer_pow({x.aval.str_short() if hasattr(x, "aval") else x.dtype}, {y}): '
                            'use a float base (x.astype(float) ** y)')
        return lax.integer_pow(x, y)
    x, y = broadcast_all(*promote(x, y), op='power', error=TypeError)
    if _is_float(x):
        return lax.pow(x, y)
    return _integer_power(x, y)


# XLA squares and multiplies over the exponent's six low bits only (any base but 0, 1
# and -1 overflows every integer type by 2**6): an integer x ** y is x ** (y & 63),
# so (-1) ** -3 == -1, 1 ** -5 == 1 and 2 ** -1 == 0, as JAX 0.10.2 gives.
_INT_POW_BITS = 6


def _integer_power(x, y):
    """x ** y for integer arrays by binary exponentiation over y's low bits."""
    acc = broadcast_to(_const(x, 1), x.shape)
    base = x
    e = y
    one, zero = _const(y, 1), _const(y, 0)
    for _ in range(_INT_POW_BITS):
        acc = lax.select(lax.ne(lax.bitwise_and(e, one), zero), lax.mul(acc, base), acc)
        base = lax.mul(base, base)
        e = lax.shift_right_logical(e, one)
    return acc


pow = power


def float_power(x, y):
    x, y = broadcast_all(*promote_inexact(x, y), op='float_power', error=TypeError)
    return lax.pow(x, y)


def hypot(x, y):
    # max * sqrt(1 + (min/max)**2): no overflow, and at (0, 0) the derivative is that of
    # max (0.5 each), as in JAX, where sqrt(x*x + y*y) would give NaN.
    x, y = broadcast_all(*promote_inexact(x, y), op='hypot', error=TypeError)
    if dtypes.is_complex(x.dtype):
        raise ValueError('jnp.hypot is not well defined for complex-valued inputs; convert '
                         'to real values first, e.g. with abs(x)')
    x, y = lax.abs(x), lax.abs(y)
    any_inf = lax.bitwise_or(isposinf(x), isposinf(y))
    hi, lo = lax.max(x, y), lax.min(x, y)
    hi_zero = lax.eq(hi, _const(hi, 0))
    ratio = lax.div(lo, lax.select(hi_zero, _const(hi, 1), hi))
    r = lax.select(hi_zero, hi, lax.mul(hi, lax.sqrt(lax.add(_const(hi, 1), lax.mul(ratio, ratio)))))
    return lax.select(any_inf, _const(r, np.inf), r)


def copysign(x, y):
    x, y = broadcast_all(*promote_inexact(x, y), op='copysign', error=TypeError)
    return lax.select(signbit(y), lax.neg(lax.abs(x)), lax.abs(x))


def fmax(x, y):
    # A selection, not max: at a tie the whole derivative goes to y, as in JAX.
    x, y = broadcast_all(*promote(x, y), op='fmax', keep_scalars=False, error=TypeError)
    return lax.select(lax.bitwise_or(lax.gt(x, y), isnan(y)), x, y)


def fmin(x, y):
    x, y = broadcast_all(*promote(x, y), op='fmin', keep_scalars=False, error=TypeError)
    return lax.select(lax.bitwise_or(lax.lt(x, y), isnan(y)), x, y)


def heaviside(x1, x2):
    x1, x2 = broadcast_all(*promote_inexact(x1, x2), op='heaviside', error=TypeError)
    zero = _const(x1, 0)
    return lax.select(lax.lt(x1, zero), zero, lax.select(lax.gt(x1, zero), _const(x1, 1), x2))


def where(condition, x=None, y=None, *, size=None, fill_value=None):
    if x is None and y is None:
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError('Either both or neither of the x and y arguments should be provided '
                         'to jnp.where')
    c = _to_bool(condition)
    x, y = promote(x, y)
    c, x, y = broadcast_all(c, x, y, op='where', keep_scalars=False)
    return lax.select(c, x, y)


def clip(arr=None, min=None, max=None, *, a=None, a_min=None, a_max=None):
    arr = arr if arr is not None else a
    lo = min if min is not None else a_min
    hi = max if max is not None else a_max
    arr = asarray(arr)
    if lo is not None:
        arr = maximum(arr, lo)
    if hi is not None:
        arr = minimum(arr, hi)
    return arr


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    x = asarray(x)
    if not _is_float(x):
        return x
    info = dtypes.finfo(x.dtype)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    out = lax.select(isnan(x), _const(x, nan), x)
    out = lax.select(isposinf(out), _const(x, posinf), out)
    return lax.select(isneginf(out), _const(x, neginf), out)


def real(x):
    x = asarray(x)
    return complex_parts.real(x) if dtypes.is_complex(x.dtype) else x


def conjugate(x):
    x = asarray(x)
    return complex_parts.conj(x) if dtypes.is_complex(x.dtype) else x


conj = conjugate


def angle(z, deg=False):
    z = asarray(z)
    re, im = real(z), imag(z)
    dt = re.dtype if _is_float(re) else dtypes.default_float()
    out = lax.atan2(lax.convert_element_type(im, dt), lax.convert_element_type(re, dt))
    return lax.mul(out, _const(out, 180 / np.pi)) if deg else out


def imag(x):
    x = asarray(x)
    if dtypes.is_complex(x.dtype):
        return complex_parts.imag(x)
    zero = asarray(np.zeros((), x.dtype))
    return broadcast_to(lax._convert(zero, x.dtype, True) if x.weak_type else zero, x.shape)


# lax.reduce_window takes jnp's ufuncs as its computations too (JAX accepts both).
for _fn, _kind in ((add, 'sum'), (maximum, 'max'), (minimum, 'min'), (multiply, 'prod')):
    lax_windowed.register_monoid(_fn, _kind)
del _fn, _kind
