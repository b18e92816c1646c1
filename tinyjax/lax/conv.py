"""lax's convolution functions: layouts as strings or ConvDimensionNumbers, string
padding ('SAME', 'VALID'), conv_transpose. They bind `conv_general_dilated`
(tinyjax/ops/conv.py)."""
import numpy as np

from tinyjax import dtypes
from tinyjax.ops import common, structural
from tinyjax.ops.conv import _NAME, ConvDimensionNumbers, _dilate, conv_general_dilated_p
from tinyjax.ops.precision import canonicalize_precision


def _spec_error(msg):
    return TypeError(f'{_NAME}: {msg}. Pass dimension_numbers as three layout strings such '
                     "as ('NCHW', 'OIHW', 'NCHW') or ('NHWC', 'HWIO', 'NHWC'), a "
                     'ConvDimensionNumbers, or None for the NC.../OI... default.')


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers):
    """None, three layout strings or a ConvDimensionNumbers -> ConvDimensionNumbers of
    axis tuples (batch/out-feature first, then feature, then spatial in rhs order)."""
    nd = len(lhs_shape)
    if nd != len(rhs_shape):
        raise TypeError(f'convolution requires lhs and rhs ndim to be equal, got {nd} and '
                        f'{len(rhs_shape)} (shapes {tuple(lhs_shape)} and {tuple(rhs_shape)})')
    if nd < 2:
        raise TypeError(f'convolution needs operands of rank >= 2, got shapes '
                        f'{tuple(lhs_shape)} and {tuple(rhs_shape)}')
    if dimension_numbers is None:
        return ConvDimensionNumbers(*(tuple(range(nd)),) * 3)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        dn = ConvDimensionNumbers(*(tuple(int(a) for a in s) for s in dimension_numbers))
        if any(sorted(s) != list(range(nd)) for s in dn):
            raise _spec_error(f'dimension_numbers {dimension_numbers} must each be a '
                              f'permutation of range({nd})')
        return dn
    if not isinstance(dimension_numbers, (list, tuple)) or len(dimension_numbers) != 3:
        raise _spec_error(f'dimension_numbers list/tuple must be length 3, got '
                          f'{dimension_numbers!r}')
    lhs, rhs, out = dimension_numbers
    if not all(isinstance(s, str) for s in (lhs, rhs, out)):
        raise _spec_error(f'dimension_numbers elements must be strings, got {dimension_numbers}')
    for i, s in enumerate((lhs, rhs, out)):
        if len(s) != nd:
            raise _spec_error(f'dimension_numbers[{i}]={s!r} must have len equal to the ndim '
                              f'of lhs and rhs, got {len(s)} for shapes {tuple(lhs_shape)} '
                              f'and {tuple(rhs_shape)}')
    for s, need in ((lhs, 'NC'), (rhs, 'OI'), (out, 'NC')):
        if len(set(s)) != nd or any(ch not in s for ch in need):
            raise _spec_error(f'layout {s!r} must name each axis once and contain '
                              f"{need[0]!r} and {need[1]!r}")
    spatial = set(rhs) - set('OI')
    if set(lhs) - set('NC') != spatial or set(out) - set('NC') != spatial:
        raise _spec_error(f'dimension_numbers elements must each have the same set of '
                          f'spatial characters, got {tuple(dimension_numbers)}')
    order = [ch for ch in rhs if ch not in 'OI']
    return ConvDimensionNumbers(
        (lhs.index('N'), lhs.index('C')) + tuple(lhs.index(ch) for ch in order),
        (rhs.index('O'), rhs.index('I')) + tuple(rhs.index(ch) for ch in order),
        (out.index('N'), out.index('C')) + tuple(out.index(ch) for ch in order))


def padtype_to_pads(in_shape, window_shape, window_strides, padding):
    """'SAME' / 'SAME_LOWER' / 'VALID' -> one (low, high) pair per dimension."""
    name = getattr(padding, 'name', padding)
    if isinstance(name, str):
        name = name.upper()
    if name == 'VALID':
        return [(0, 0)] * len(in_shape)
    if name not in ('SAME', 'SAME_LOWER'):
        raise RuntimeError(f"Unrecognized padding type: expected 'VALID', 'SAME', or "
                           f"'SAME_LOWER', got {padding}.")
    pads = []
    for n, k, s in zip(in_shape, window_shape, window_strides):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        small = total // 2
        pads.append((small, total - small) if name == 'SAME' else (total - small, small))
    return pads


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         batch_group_count=1, precision=None, preferred_element_type=None):
    la, ra = common.aval_of(lhs), common.aval_of(rhs)
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    nsp = la.ndim - 2
    window_strides = tuple(int(s) for s in window_strides)
    if len(window_strides) != nsp:
        raise ValueError(f'{_NAME} window and window_strides must have the same number of '
                         f'dimensions, but got {nsp} and {len(window_strides)} (lhs '
                         f'{la.str_short()}, rhs {ra.str_short()})')
    lhs_dilation = (1,) * nsp if lhs_dilation is None else tuple(int(d) for d in lhs_dilation)
    rhs_dilation = (1,) * nsp if rhs_dilation is None else tuple(int(d) for d in rhs_dilation)
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dilation):
            raise ValueError('String padding is not implemented for transposed convolution '
                             'using this op (lhs_dilation > 1); pass explicit (low, high) '
                             'pairs or use lax.conv_transpose.')
        window = [_dilate(ra.shape[d], r) for d, r in zip(dn.rhs_spec[2:], rhs_dilation)]
        padding = padtype_to_pads([la.shape[d] for d in dn.lhs_spec[2:]], window,
                                  window_strides, padding)
    try:
        padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise ValueError(f'padding argument to {_NAME} should be a string or a sequence of '
                         f'(low, high) pairs, got {padding}') from None
    if len(padding) != nsp:
        raise TypeError(f'Wrong number of explicit pads for convolution: expected {nsp}, '
                        f'got {len(padding)} (lhs {la.str_short()}, rhs {ra.str_short()})')
    pet = None if preferred_element_type is None else \
        dtypes.canonicalize(np.dtype(preferred_element_type))
    return conv_general_dilated_p.bind(
        lhs, rhs, window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dn,
        feature_group_count=int(feature_group_count), batch_group_count=int(batch_group_count),
        precision=canonicalize_precision(precision, _NAME), preferred_element_type=pet)


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """NC... / OI... convolution with strides and padding only."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                              precision=None, preferred_element_type=None):
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation,
                                rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


def _transpose_padding(k, s, padding):
    """(low, high) padding of the dilated input that gives conv_transpose's output size
    (k is the dilated kernel size, s the stride)."""
    if padding == 'SAME':
        total = k + s - 2
        lo = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == 'VALID':
        total = k + s - 2 + max(k - s, 0)
        lo = k - 1
    else:
        raise ValueError(f"conv_transpose: padding must be 'SAME', 'VALID' or explicit "
                         f'(low, high) pairs, got {padding!r}')
    return lo, total - lo


_TRANSPOSE_LAYOUTS = {2: ('NC', 'IO', 'NC'), 3: ('NHC', 'HIO', 'NHC'),
                      4: ('NHWC', 'HWIO', 'NHWC'), 5: ('NHWDC', 'HWDIO', 'NHWDC')}


def conv_transpose(lhs, rhs, strides, padding, rhs_dilation=None, dimension_numbers=None,
                   transpose_kernel=False, precision=None, preferred_element_type=None):
    """The gradient-of-conv style "deconvolution": the input dilated by `strides`.
    Layouts default to NHWC / HWIO (TensorFlow's), as in JAX."""
    la, ra = common.aval_of(lhs), common.aval_of(rhs)
    nd = la.ndim
    if dimension_numbers is None:
        if nd not in _TRANSPOSE_LAYOUTS:
            raise ValueError(f'conv_transpose: pass dimension_numbers for rank-{nd} operands')
        dimension_numbers = _TRANSPOSE_LAYOUTS[nd]
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    nsp = nd - 2
    rhs_dilation = (1,) * nsp if rhs_dilation is None else tuple(rhs_dilation)
    if isinstance(padding, str):
        ks = [_dilate(ra.shape[d], r) for d, r in zip(dn.rhs_spec[2:], rhs_dilation)]
        padding = [_transpose_padding(k, s, padding) for k, s in zip(ks, strides)]
    if transpose_kernel:
        rhs = structural.rev(rhs, dn.rhs_spec[2:])
        perm = list(range(nd))
        perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = dn.rhs_spec[1], dn.rhs_spec[0]
        rhs = structural.transpose(rhs, tuple(perm))
    return conv_general_dilated(lhs, rhs, (1,) * nsp, padding, tuple(strides), rhs_dilation,
                                dn, precision=precision,
                                preferred_element_type=preferred_element_type)
