"""tinyjax.lax: thin functions that bind primitives (JAX's lax API)."""
import numpy as np

from tinyjax import dtypes
from tinyjax.ops.elementwise import (  # noqa: F401
    neg, sign, floor, ceil, round, is_finite, exp, exp2, log, log1p, expm1, tanh, logistic,
    sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, sqrt, rsqrt, cbrt,
    erf, erf_inv, abs, square, integer_pow, add, sub, mul, div, rem, pow, max, min, atan2,
    nextafter, bitwise_and, bitwise_or, bitwise_xor, bitwise_not, shift_left,
    shift_right_arithmetic, shift_right_logical, eq, ne, lt, le, gt, ge, select_n, clamp)
from tinyjax.ops.elementwise import convert as _convert
from tinyjax.ops.structural import (  # noqa: F401
    broadcast_in_dim, reshape as _reshape, transpose, squeeze, expand_dims, rev, slice,
    slice_in_dim, pad, concatenate, iota, broadcasted_iota)
from tinyjax.ops.reduction import (  # noqa: F401
    reduce_sum, reduce_max, reduce_min, reduce_prod, reduce_and, reduce_or, argmax, argmin)
from tinyjax.ops.linalg import dot_general  # noqa: F401

not_ = bitwise_not
and_, or_, xor = bitwise_and, bitwise_or, bitwise_xor


def convert_element_type(operand, new_dtype):
    return _convert(operand, dtypes.canonicalize(new_dtype))


def reshape(operand, new_sizes, dimensions=None):
    if dimensions is not None:
        operand = transpose(operand, dimensions)
    return _reshape(operand, new_sizes)


def select(pred, on_true, on_false):
    return select_n(pred, on_false, on_true)


def broadcast(operand, sizes):
    from tinyjax.ops.common import aval_of
    shape = tuple(sizes) + aval_of(operand).shape
    return broadcast_in_dim(operand, shape, tuple(range(len(sizes), len(shape))))


def dot(lhs, rhs, precision=None, preferred_element_type=None):
    from tinyjax.ops.common import aval_of
    nl = aval_of(lhs).ndim
    return dot_general(lhs, rhs, (((nl - 1,), (0,)), ((), ())), precision, preferred_element_type)


def stop_gradient(x):
    from tinyjax import tree_util
    from tinyjax.ops.custom import stop_gradient as sg
    return tree_util.tree_map(sg, x)
