"""Elementwise primitives, one table row each: name, NumPy rule, CUDA C expression,
accepted dtypes, derivative.

Operands have equal shapes, except that 0-d operands broadcast (`mul x 2.0:f32[]`);
all operands share one dtype. The CUDA expression computes in the operand type (the
code generator widens float16/bfloat16 to float first). A JVP rule gets the primal
inputs, the primal output and the input tangents (None for a zero tangent) and returns
the output tangent, built only from ops that are linear in the tangents.
"""
import math

import numpy as np

from tinyjax import dtypes
from tinyjax.compiler.lowering import Elementwise
from tinyjax.compiler.passes import is_scalar_literal, producer, same_type
from tinyjax.core.ir import ShapedArray
from tinyjax.interpreters.ad import is_undefined
from tinyjax.interpreters import base_ops
from tinyjax.interpreters.batching import broadcasting_rule
from tinyjax.ops import common, complex_parts, reduction, structural

FLOAT, NUM, INT, ANY = 'floating', 'numeric', 'integer or boolean', 'any'
INTEGER = 'integer'


def _accepts(kind, dtype):
    if kind == FLOAT:
        return dtypes.is_inexact(dtype)
    if kind == NUM:
        return not dtypes.is_bool(dtype)
    if kind == INT:
        return dtypes.is_int(dtype) or dtypes.is_bool(dtype)
    if kind == INTEGER:
        return dtypes.is_int(dtype)
    return True


def _shape_rule(name, avals, kind, out_dtype=None):
    common.check_same_dtypes(name, avals)
    dtype = avals[0].dtype
    if not _accepts(kind, dtype):
        to = 'jnp.int32' if kind == INTEGER else 'jnp.float32'
        raise TypeError(f'{name} does not accept dtype {dtype.name}; it takes {kind} '
                        f'types. Convert the input first, e.g. x.astype({to}).')
    shapes = {a.shape for a in avals if a.shape != ()}
    if len(shapes) > 1:
        shown = ', '.join(str(a.shape) for a in avals)
        raise TypeError(f'{name} got incompatible shapes for broadcasting: {shown}. '
                        'lax ops need equal shapes (or 0-d operands); broadcast first, or '
                        'use tinyjax.numpy, which broadcasts.')
    shape = shapes.pop() if shapes else ()
    weak = all(a.weak_type for a in avals) and out_dtype is None
    return ShapedArray(shape, out_dtype or dtype, weak)


def _unbroadcast(ct, aval):
    """Sum a cotangent of the full shape down to a 0-d operand's shape."""
    if ct is None or aval.shape == common.aval_of(ct).shape:
        return ct
    return reduction.reduce_sum(ct, tuple(range(common.aval_of(ct).ndim)))


# Ops cheap enough that fusion recomputes them in each consumer instead of storing them.
_CHEAP = {'neg', 'add', 'sub', 'mul', 'max', 'min', 'abs', 'eq', 'ne', 'lt', 'le', 'gt', 'ge',
          'and', 'or', 'not', 'copy', 'square'}
# nextafter is not half_ok: in float it would step by a float ulp, not a half ulp.


def _def(name, arity, impl, cuda, kind, jvp, out_dtype=None, linear=None):
    def abstract_eval(*avals, **params):
        return _shape_rule(name, avals, kind, out_dtype)

    def jvp_rule(primals, tangents, **params):
        out = p.bind(*primals, **params)
        if jvp is None or all(t is None for t in tangents):
            return out, None
        t = jvp(*primals, out, *tangents, **params)
        shape = common.aval_of(out).shape
        if common.aval_of(t).shape != shape:
            # Only a 0-d operand moved (x + s with s a scalar): its tangent is 0-d too.
            t = common.broadcast_in_dim(t, shape, ())
        return out, t

    p = common.define(name, abstract_eval, impl, jvp_rule, linear)
    p.batch = broadcasting_rule(p)
    p.lowering = None if cuda is None else Elementwise(
        cuda, cheap=name in _CHEAP, half_ok=name != 'nextafter', reciprocal=name == 'div')
    p.kind, p.arity = kind, arity
    return p


def _inst(t, like):
    return t if t is not None else common.zeros_like(like)


def _c(x, v):
    """A 0-d constant with x's dtype (a Literal inside a trace)."""
    return common.scalar(v, common.aval_of(x).dtype)


def _sum_tangents(*ts):
    ts = [t for t in ts if t is not None]
    out = ts[0]
    for t in ts[1:]:
        out = add(out, t)
    return out


# --- unary: name, NumPy rule, CUDA C, dtypes, jvp(x, y, t) ---------------------------
def _np_erf(xp, x):
    if xp is not np:
        import cupyx.scipy.special as sp  # lazy: CuPy is optional (GPU only)
        return sp.erf(x)
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)


def _np_erf_inv(xp, x):
    if xp is not np:
        import cupyx.scipy.special as sp  # lazy: CuPy is optional (GPU only)
        return sp.erfinv(x)
    return _erf_inv_host(x)


def _erf_inv_host(x):
    # M. Giles' approximation, then two Newton steps on erf for full double precision.
    with np.errstate(divide='ignore', invalid='ignore'):
        w = -np.log1p(-np.square(x.astype(np.float64)))
    small = w < 5
    ws = w - 2.5
    p1 = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
              -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
        p1 = c + p1 * ws
    wl = np.sqrt(np.maximum(w, 0)) - 3
    p2 = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
              -0.0076224613, 0.00943887047, 1.00167406, 2.83297682):
        p2 = c + p2 * wl
    y = np.where(small, p1, p2) * x
    erf = np.frompyfunc(math.erf, 1, 1)
    with np.errstate(all='ignore'):
        for _ in range(2):
            fin = np.isfinite(y) & (np.abs(x) < 1)
            err = np.asarray(erf(np.where(fin, y, 0)), np.float64) - x
            y = np.where(fin, y - err / (2 / math.sqrt(math.pi) * np.exp(-y * y)), y)
    y = np.where(x == 1, np.inf, np.where(x == -1, -np.inf, y))
    return np.asarray(np.where(np.abs(x) > 1, np.nan, y), dtype=x.dtype)


def _bits_view(xp, x):
    """x as unsigned integers of its width, and that width in bits."""
    bits = x.dtype.itemsize * 8
    return x.view(np.dtype(f'uint{bits}')), bits


def _np_clz(xp, x):
    u, bits = _bits_view(xp, x)
    count, v, step = xp.zeros(u.shape, u.dtype), u, bits // 2
    while step:                       # binary search for the highest set bit
        top_clear = (v >> u.dtype.type(bits - step)) == 0
        count = xp.where(top_clear, count + u.dtype.type(step), count)
        v = xp.where(top_clear, v << u.dtype.type(step), v)
        step //= 2
    return xp.where(u == 0, u.dtype.type(bits), count).astype(x.dtype)


def _np_popcount(xp, x):
    u, bits = _bits_view(xp, x)
    count = xp.zeros(u.shape, u.dtype)
    for k in range(bits):
        count = count + ((u >> u.dtype.type(k)) & u.dtype.type(1))
    return count.astype(x.dtype)


def _np_sign(xp, x):
    # XLA's sign keeps a zero's sign (sign(-0.0) is -0.0); NumPy's gives +0.0.
    return xp.where(x == 0, x, xp.sign(x)) if x.dtype.kind in 'fc' else xp.sign(x)


def _np_round(xp, x, rounding_method=0):
    if rounding_method == 1:
        return xp.round(x)
    return xp.sign(x) * xp.floor(xp.abs(x) + 0.5)


_UNARY = [
    ('neg', lambda xp, x: xp.negative(x), '(-{0})', NUM, lambda x, y, t: neg(t)),
    ('sign', _np_sign, 'tj_sign({0})', NUM, None),
    ('floor', lambda xp, x: xp.floor(x), 'floor({0})', FLOAT, None),
    ('ceil', lambda xp, x: xp.ceil(x), 'ceil({0})', FLOAT, None),
    ('round', _np_round, 'tj_round({0}, {rounding_method})', FLOAT, None),
    ('is_finite', lambda xp, x: xp.isfinite(x), 'isfinite({0})', FLOAT, None, dtypes.bool_),
    ('exp', lambda xp, x: xp.exp(x), 'exp({0})', FLOAT, lambda x, y, t: mul(t, y)),
    ('exp2', lambda xp, x: xp.exp2(x), 'exp2({0})', FLOAT,
     lambda x, y, t: mul(t, mul(y, _c(x, math.log(2))))),
    ('log', lambda xp, x: xp.log(x), 'log({0})', FLOAT, lambda x, y, t: div(t, x)),
    ('log1p', lambda xp, x: xp.log1p(x), 'log1p({0})', FLOAT,
     lambda x, y, t: div(t, add(x, _c(x, 1)))),
    ('expm1', lambda xp, x: xp.expm1(x), 'expm1({0})', FLOAT,
     lambda x, y, t: mul(t, add(y, _c(x, 1)))),
    ('tanh', lambda xp, x: xp.tanh(x), 'tanh({0})', FLOAT,
     lambda x, y, t: mul(t, sub(_c(x, 1), mul(y, y)))),
    ('logistic', lambda xp, x: 1 / (1 + xp.exp(-x)), 'tj_logistic({0})', FLOAT,
     lambda x, y, t: mul(t, mul(y, sub(_c(x, 1), y)))),
    ('sin', lambda xp, x: xp.sin(x), 'sin({0})', FLOAT, lambda x, y, t: mul(t, cos(x))),
    ('cos', lambda xp, x: xp.cos(x), 'cos({0})', FLOAT, lambda x, y, t: neg(mul(t, sin(x)))),
    ('tan', lambda xp, x: xp.tan(x), 'tan({0})', FLOAT,
     lambda x, y, t: mul(t, add(_c(x, 1), mul(y, y)))),
    ('asin', lambda xp, x: xp.arcsin(x), 'asin({0})', FLOAT,
     lambda x, y, t: mul(t, rsqrt(sub(_c(x, 1), mul(x, x))))),
    ('acos', lambda xp, x: xp.arccos(x), 'acos({0})', FLOAT,
     lambda x, y, t: neg(mul(t, rsqrt(sub(_c(x, 1), mul(x, x)))))),
    ('atan', lambda xp, x: xp.arctan(x), 'atan({0})', FLOAT,
     lambda x, y, t: div(t, add(_c(x, 1), mul(x, x)))),
    ('sinh', lambda xp, x: xp.sinh(x), 'sinh({0})', FLOAT, lambda x, y, t: mul(t, cosh(x))),
    ('cosh', lambda xp, x: xp.cosh(x), 'cosh({0})', FLOAT, lambda x, y, t: mul(t, sinh(x))),
    ('asinh', lambda xp, x: xp.arcsinh(x), 'asinh({0})', FLOAT,
     lambda x, y, t: mul(t, rsqrt(add(mul(x, x), _c(x, 1))))),
    ('acosh', lambda xp, x: xp.arccosh(x), 'acosh({0})', FLOAT,
     lambda x, y, t: mul(t, rsqrt(mul(sub(x, _c(x, 1)), add(x, _c(x, 1)))))),
    ('atanh', lambda xp, x: xp.arctanh(x), 'atanh({0})', FLOAT,
     lambda x, y, t: div(t, sub(_c(x, 1), mul(x, x)))),
    ('sqrt', lambda xp, x: xp.sqrt(x), 'sqrt({0})', FLOAT,
     lambda x, y, t: div(t, mul(_c(x, 2), y))),
    ('rsqrt', lambda xp, x: 1 / xp.sqrt(x), 'rsqrt({0})', FLOAT,
     lambda x, y, t: mul(t, mul(_c(x, -0.5), div(y, x)))),
    ('cbrt', lambda xp, x: xp.cbrt(x), 'cbrt({0})', FLOAT,
     lambda x, y, t: div(t, mul(_c(x, 3), mul(y, y)))),
    ('erf', _np_erf, 'erf({0})', FLOAT,
     lambda x, y, t: mul(t, mul(_c(x, 2 / math.sqrt(math.pi)), exp(neg(mul(x, x)))))),
    ('erf_inv', _np_erf_inv, 'erfinv({0})', FLOAT,
     lambda x, y, t: mul(t, mul(_c(x, math.sqrt(math.pi) / 2), exp(mul(y, y))))),
    ('abs', lambda xp, x: xp.abs(x), 'tj_abs({0})', NUM, lambda x, y, t: _abs_tangent(x, y, t)),
    ('square', lambda xp, x: xp.square(x), '({0} * {0})', NUM,
     lambda x, y, t: mul(t, mul(_c(x, 2), x))),
    ('not', lambda xp, x: xp.invert(x), 'tj_not({0})', INT, None),
    ('clz', _np_clz, 'tj_clz({0})', INTEGER, None),
    ('population_count', _np_popcount, 'tj_popcount({0})', INTEGER, None),
    ('integer_pow', lambda xp, x, y: _np_integer_pow(xp, x, y), 'tj_ipow<{y}>({0})', NUM,
     lambda x, out, t, y: (common.zeros_like(t) if y == 0 else
                           mul(t, mul(_c(x, y), integer_pow(x, y - 1) if y != 1 else _c(x, 1))))),
    ('copy', lambda xp, x: xp.array(x, copy=True), '({0})', ANY, lambda x, y, t: t),
]


def _np_integer_pow(xp, x, y):
    if y >= 0:
        return xp.power(x, y).astype(x.dtype)
    with np.errstate(divide='ignore'):
        return (1 / xp.power(x, -y)).astype(x.dtype)


# --- binary: name, NumPy rule, CUDA C, dtypes, jvp(x, y, z, tx, ty) --------------------
def _np_div(xp, x, y):
    if dtypes.is_inexact(x.dtype):
        return xp.divide(x, y)
    with np.errstate(all='ignore'):
        q = xp.floor_divide(x, xp.where(y == 0, 1, y))
        fix = (xp.remainder(x, xp.where(y == 0, 1, y)) != 0) & ((x < 0) != (y < 0))
        return xp.where(y == 0, -1, q + fix)


def _np_rem(xp, x, y):
    if dtypes.is_inexact(x.dtype):
        return xp.fmod(x, y)
    return xp.fmod(x, xp.where(y == 0, 1, y)) * (y != 0) + x * (y == 0)


def _minmax_jvp(op):
    def rule(x, y, z, tx, ty):
        # Ties split the tangent evenly, as JAX does.
        half = _c(z, 0.5)
        one = _c(z, 1)

        def weight(a, b):
            dt = common.aval_of(z).dtype
            ea, eb = convert(eq(a, z), dt), convert(eq(b, z), dt)
            return mul(ea, sub(one, mul(half, eb)))
        return _sum_tangents(None if tx is None else mul(tx, weight(x, y)),
                             None if ty is None else mul(ty, weight(y, x)))
    return rule


def _pow_jvp(x, y, z, tx, ty):
    outs = []
    if tx is not None:
        # y * x**(y-1) as JAX writes it for a float exponent: NaN at x = y = 0.
        outs.append(mul(tx, mul(y, pow(x, sub(y, _c(y, 1))))))
    if ty is not None:
        logx = select_n(eq(x, _c(x, 0)), log(x), _c(x, 0))
        outs.append(mul(ty, mul(z, logx)))
    return _sum_tangents(*outs)


def _rem_jvp(x, y, z, tx, ty):
    parts = [tx]
    if ty is not None:
        q = div(x, y)
        parts.append(neg(mul(ty, mul(sign(q), floor(abs(q))))))
    return _sum_tangents(*parts)


def _atan2_jvp(x, y, z, tx, ty):
    den = add(mul(x, x), mul(y, y))
    return _sum_tangents(None if tx is None else mul(tx, div(y, den)),
                         None if ty is None else neg(mul(ty, div(x, den))))


_BINARY = [
    ('add', lambda xp, x, y: xp.add(x, y), '({0} + {1})', NUM,
     lambda x, y, z, tx, ty: _sum_tangents(tx, ty)),
    ('sub', lambda xp, x, y: xp.subtract(x, y), '({0} - {1})', NUM,
     lambda x, y, z, tx, ty: _sum_tangents(tx, None if ty is None else neg(ty))),
    ('mul', lambda xp, x, y: xp.multiply(x, y), '({0} * {1})', NUM,
     lambda x, y, z, tx, ty: _sum_tangents(None if tx is None else mul(tx, y),
                                           None if ty is None else mul(x, ty))),
    ('div', _np_div, 'tj_div({0}, {1})', NUM,
     lambda x, y, z, tx, ty: _sum_tangents(
         None if tx is None else div(tx, y),
         None if ty is None else neg(mul(ty, div(z, y))))),
    ('rem', _np_rem, 'tj_rem({0}, {1})', NUM, _rem_jvp),
    ('pow', lambda xp, x, y: xp.power(x, y), 'pow({0}, {1})', FLOAT, _pow_jvp),
    ('max', lambda xp, x, y: xp.maximum(x, y), 'tj_max({0}, {1})', ANY, _minmax_jvp('max')),
    ('min', lambda xp, x, y: xp.minimum(x, y), 'tj_min({0}, {1})', ANY, _minmax_jvp('min')),
    ('atan2', lambda xp, x, y: xp.arctan2(x, y), 'atan2({0}, {1})', FLOAT, _atan2_jvp),
    ('nextafter', lambda xp, x, y: xp.nextafter(x, y), 'nextafter({0}, {1})', FLOAT, None),
    ('and', lambda xp, x, y: xp.bitwise_and(x, y), '({0} & {1})', INT, None),
    ('or', lambda xp, x, y: xp.bitwise_or(x, y), '({0} | {1})', INT, None),
    ('xor', lambda xp, x, y: xp.bitwise_xor(x, y), '({0} ^ {1})', INT, None),
    ('shift_left', lambda xp, x, y: _np_shift(xp, x, y, 'left'), 'tj_shl({0}, {1})', INT, None),
    ('shift_right_arithmetic', lambda xp, x, y: _np_shift(xp, x, y, 'arith'),
     'tj_sra({0}, {1})', INT, None),
    ('shift_right_logical', lambda xp, x, y: _np_shift(xp, x, y, 'logical'),
     'tj_srl({0}, {1})', INT, None),
]

_COMPARE = [
    ('eq', lambda xp, x, y: xp.equal(x, y), '({0} == {1})'),
    ('ne', lambda xp, x, y: xp.not_equal(x, y), '({0} != {1})'),
    ('lt', lambda xp, x, y: xp.less(x, y), '({0} < {1})'),
    ('le', lambda xp, x, y: xp.less_equal(x, y), '({0} <= {1})'),
    ('gt', lambda xp, x, y: xp.greater(x, y), '({0} > {1})'),
    ('ge', lambda xp, x, y: xp.greater_equal(x, y), '({0} >= {1})'),
]


def _np_shift(xp, x, y, kind):
    bits = x.dtype.itemsize * 8
    big = (y < 0) | (y >= bits)
    ys = xp.where(big, 0, y).astype(x.dtype)
    if kind == 'left':
        return xp.where(big, 0, xp.left_shift(x, ys))
    if kind == 'arith':
        return xp.where(big, xp.where(x < 0, -1, 0).astype(x.dtype) if not dtypes.is_unsigned(x.dtype)
                        else 0, xp.right_shift(x, ys))
    udt = np.dtype(f'uint{bits}')
    return xp.where(big, 0, xp.right_shift(x.view(udt), ys.astype(udt)).view(x.dtype))


PRIMS = {}
for _row in _UNARY:
    PRIMS[_row[0]] = _def(_row[0], 1, *_row[1:5], *(_row[5:]))
for _row in _BINARY:
    PRIMS[_row[0]] = _def(_row[0], 2, *_row[1:])
for _name, _impl, _cuda in _COMPARE:
    PRIMS[_name] = _def(_name, 2, _impl, _cuda, ANY, None, dtypes.bool_)

# Linear primitives: transposes.


def _t_neg(ct, x):
    return [None if ct is None else neg(ct)]


def _t_add(ct, x, y):
    return [_unbroadcast(ct, x.aval), _unbroadcast(ct, y.aval)]


def _t_sub(ct, x, y):
    return [_unbroadcast(ct, x.aval), None if ct is None else _unbroadcast(neg(ct), y.aval)]


def _t_mul(ct, x, y):
    if ct is None:
        return [None, None]
    if is_undefined(x):
        return [_unbroadcast(mul(ct, y), x.aval), None]
    return [None, _unbroadcast(mul(x, ct), y.aval)]


def _t_div(ct, x, y):
    return [None if ct is None else _unbroadcast(div(ct, y), x.aval), None]


PRIMS['neg'].transpose = _t_neg
PRIMS['add'].transpose = _t_add
PRIMS['sub'].transpose = _t_sub
PRIMS['mul'].transpose = _t_mul
PRIMS['div'].transpose = _t_div
PRIMS['copy'].transpose = lambda ct, x: [ct]


def _abs_abstract(x):
    # |z| of a complex array is real (float32 for complex64), as in JAX.
    out = _shape_rule('abs', [x], NUM)
    return out.update(dtype=complex_parts.real_dtype(x.dtype))


def _abs_tangent(x, y, t):
    if not dtypes.is_complex(common.aval_of(x).dtype):
        return select_n(ge(x, _c(x, 0)), neg(t), t)
    # Re(t * conj(z) / |z|), with |z| = 0 read as 1 (so the tangent there is 0, as JAX).
    safe = select_n(eq(y, _c(y, 0)), y, _c(y, 1))
    scale = div(complex_parts.conj(x), complex_parts.complex_(safe, common.zeros_like(safe)))
    return complex_parts.real(mul(t, scale))


PRIMS['abs'].abstract_eval = _abs_abstract

globals().update({f'{k}_p': v for k, v in PRIMS.items()})


def _binder(p):
    return lambda *args, **params: p.bind(*args, **params)


neg, sign, floor, ceil, is_finite = (_binder(PRIMS[n]) for n in ('neg', 'sign', 'floor', 'ceil', 'is_finite'))
exp, exp2, log, log1p, expm1 = (_binder(PRIMS[n]) for n in ('exp', 'exp2', 'log', 'log1p', 'expm1'))
tanh, logistic, sin, cos, tan = (_binder(PRIMS[n]) for n in ('tanh', 'logistic', 'sin', 'cos', 'tan'))
asin, acos, atan, sinh, cosh = (_binder(PRIMS[n]) for n in ('asin', 'acos', 'atan', 'sinh', 'cosh'))
asinh, acosh, atanh, sqrt, rsqrt = (_binder(PRIMS[n]) for n in ('asinh', 'acosh', 'atanh', 'sqrt', 'rsqrt'))
cbrt, erf, erf_inv, abs, square = (_binder(PRIMS[n]) for n in ('cbrt', 'erf', 'erf_inv', 'abs', 'square'))
bitwise_not = _binder(PRIMS['not'])
clz, population_count = _binder(PRIMS['clz']), _binder(PRIMS['population_count'])
add, sub, mul, div, rem, pow = (_binder(PRIMS[n]) for n in ('add', 'sub', 'mul', 'div', 'rem', 'pow'))
max, min, atan2, nextafter = (_binder(PRIMS[n]) for n in ('max', 'min', 'atan2', 'nextafter'))
bitwise_and, bitwise_or, bitwise_xor = (_binder(PRIMS[n]) for n in ('and', 'or', 'xor'))
shift_left, shift_right_arithmetic, shift_right_logical = (
    _binder(PRIMS[n]) for n in ('shift_left', 'shift_right_arithmetic', 'shift_right_logical'))
eq, ne, lt, le, gt, ge = (_binder(PRIMS[n]) for n in ('eq', 'ne', 'lt', 'le', 'gt', 'ge'))


def round(x, rounding_method=0):
    return PRIMS['round'].bind(x, rounding_method=int(rounding_method))


def integer_pow(x, y):
    return PRIMS['integer_pow'].bind(x, y=int(y))


# --- select_n and clamp: elementwise with a predicate ---------------------------------
def _select_abstract(which, *cases):
    if not cases:
        raise TypeError('select_n needs at least one case')
    common.check_same_dtypes('select_n', cases)
    if which.dtype != dtypes.bool_ and not dtypes.is_int(which.dtype):
        raise TypeError(f'select_n predicate must be boolean or integer, got {which.dtype}')
    if which.dtype == dtypes.bool_ and len(cases) > 2:
        raise TypeError('select_n with a boolean predicate takes at most two cases')
    shapes = {c.shape for c in cases if c.shape != ()}
    if which.shape != ():
        shapes.add(which.shape)
    if len(shapes) > 1:
        raise TypeError(f'select_n got incompatible shapes: predicate {which.shape}, cases '
                        f'{[c.shape for c in cases]}; broadcast them to one shape first')
    shape = shapes.pop() if shapes else ()
    return ShapedArray(shape, cases[0].dtype, all(c.weak_type for c in cases))


def _select_impl(xp, which, *cases):
    if which.dtype == np.bool_:
        out = xp.where(which, cases[1], cases[0]) if len(cases) == 2 else cases[0]
    else:
        out = cases[0]
        for i, c in enumerate(cases[1:], 1):
            out = xp.where(which == i, c, out)
    return xp.broadcast_to(out, np.broadcast_shapes(which.shape, *[c.shape for c in cases]))


def _select_jvp(primals, tangents):
    which, *cases = primals
    out = select_n(which, *cases)
    if all(t is None for t in tangents[1:]):
        return out, None
    ts = [_inst(t, c) for t, c in zip(tangents[1:], cases)]
    return out, select_n(which, *ts)


def _select_transpose(ct, which, *cases):
    if ct is None:
        return [None] * (len(cases) + 1)
    z = common.zeros_like(ct)
    outs = [None]
    for i, c in enumerate(cases):
        if not is_undefined(c):
            outs.append(None)
            continue
        picks = [z] * len(cases)
        picks[i] = ct
        outs.append(_unbroadcast(select_n(which, *picks), c.aval))
    return outs


select_n_p = common.define('select_n', _select_abstract, _select_impl, _select_jvp,
                           _select_transpose)
select_n_p.batch = broadcasting_rule(select_n_p)
select_n_p.lowering = Elementwise('select', cheap=True)


def select_n(which, *cases):
    return select_n_p.bind(which, *cases)


def _clamp_abstract(lo, x, hi):
    common.check_same_dtypes('clamp', [lo, x, hi])
    for b in (lo, hi):
        if b.shape not in ((), x.shape):
            raise TypeError(f'clamp bounds must be 0-d or match the operand shape {x.shape}, '
                            f'got {b.shape}')
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def _clamp_jvp(primals, tangents):
    # JAX's rule: the operand's tangent passes strictly inside (lo, hi); lo's where it
    # is strictly above x (and below hi), hi's where it is strictly below x. So at
    # x == lo or x == hi no input gets the tangent.
    lo, x, hi = primals
    out = clamp(lo, x, hi)
    parts = []
    if tangents[1] is not None:
        inside = bitwise_and(gt(x, lo), lt(x, hi))
        parts.append(select_n(inside, common.zeros_like(tangents[1]), tangents[1]))
    if tangents[0] is not None:
        picked = bitwise_and(gt(lo, x), lt(lo, hi))
        parts.append(select_n(picked, common.zeros_like(out), _bcast_to(tangents[0], out)))
    if tangents[2] is not None:
        parts.append(select_n(lt(hi, x), common.zeros_like(out), _bcast_to(tangents[2], out)))
    return out, (_sum_tangents(*parts) if parts else None)


def _bcast_to(t, like):
    shape = common.aval_of(like).shape
    return t if common.aval_of(t).shape == shape else structural.broadcast_in_dim(t, shape, ())


clamp_p = common.define('clamp', _clamp_abstract,
                        lambda xp, lo, x, hi: xp.minimum(xp.maximum(x, lo), hi), _clamp_jvp)
clamp_p.batch = broadcasting_rule(clamp_p)
clamp_p.lowering = Elementwise('tj_min(tj_max({1}, {0}), {2})')


def clamp(lo, x, hi):
    return clamp_p.bind(lo, x, hi)


# --- convert_element_type -------------------------------------------------------------
def _convert_abstract(x, new_dtype, weak_type=False):
    return ShapedArray(x.shape, new_dtype, weak_type)


def _convert_impl(xp, x, new_dtype, weak_type=False):
    new_dtype = np.dtype(new_dtype)
    if dtypes.is_inexact(x.dtype) and (dtypes.is_int(new_dtype)):
        # Float to int: NaN gives 0 and out-of-range values saturate, as XLA does.
        info = np.iinfo(new_dtype)
        with np.errstate(over='ignore'):
            hi, lo = x.dtype.type(info.max), x.dtype.type(info.min)
        too_big, too_small = x >= hi, x <= lo
        safe = xp.where(xp.isnan(x) | too_big | too_small, 0, x)
        out = safe.astype(new_dtype)
        out = xp.where(too_big, new_dtype.type(info.max), out)
        return xp.where(too_small, new_dtype.type(info.min), out)
    if dtypes.is_complex(x.dtype) and not dtypes.is_complex(new_dtype):
        x = x.real
    with np.errstate(over='ignore', invalid='ignore'):
        return x.astype(new_dtype)


def _convert_jvp(primals, tangents, new_dtype, weak_type=False):
    (x,), (t,) = primals, tangents
    out = convert_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    if t is None or not dtypes.is_inexact(new_dtype) or not dtypes.is_inexact(x.dtype):
        return out, None
    return out, convert_p.bind(t, new_dtype=new_dtype, weak_type=weak_type)


def _convert_transpose(ct, x, new_dtype, weak_type=False):
    if ct is None:
        return [None]
    return [convert_p.bind(ct, new_dtype=x.aval.dtype, weak_type=x.aval.weak_type)]


convert_p = common.define('convert_element_type', _convert_abstract, _convert_impl,
                          _convert_jvp, _convert_transpose)
convert_p.batch = lambda args, dims, **p: (convert_p.bind(*args, **p), dims[0])
convert_p.lowering = Elementwise('convert', cheap=True, named=False)


def convert(x, dtype, weak_type=False):
    """convert_element_type; a no-op when x already has that dtype and weakness."""
    dt = np.dtype(dtype)
    if common.aval_of(x).dtype == dt and common.aval_of(x).weak_type == weak_type:
        return x
    return convert_p.bind(x, new_dtype=dt, weak_type=bool(weak_type))


base_ops.install(add=add, convert=convert)


# --- simplifications the compiler applies (compiler/passes.py: simplify) ---------------
def _identity_at(value, *positions):
    """x op c -> x where the literal c == value sits at one of `positions` (0 or 1)."""
    def rule(out, ins, params, defs):
        for k in positions:
            if is_scalar_literal(ins[k], value):
                return ins[1 - k]
        return None
    return rule


def _same_type_is_identity(out, ins, params, defs):
    return ins[0] if same_type(out.aval, ins[0].aval) else None


def _neg_of_neg(out, ins, params, defs):
    d = producer(ins[0], defs)
    return d.inputs[0] if d is not None and d.prim is PRIMS['neg'] else None


PRIMS['mul'].simplify = _identity_at(1, 1, 0)
PRIMS['add'].simplify = _identity_at(0, 1, 0)
PRIMS['sub'].simplify = _identity_at(0, 1)
PRIMS['div'].simplify = _identity_at(1, 1)
PRIMS['neg'].simplify = _neg_of_neg
PRIMS['copy'].simplify = _same_type_is_identity
convert_p.simplify = _same_type_is_identity

