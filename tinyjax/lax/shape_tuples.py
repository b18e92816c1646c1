"""Output shapes of convolutions and windowed reductions computed from shapes alone
(lax.conv_general_shape_tuple, conv_transpose_shape_tuple, reduce_window_shape_tuple):
layer libraries such as stax use them to size parameters before any array exists. Each
applies the same size rule the primitive's shape rule applies."""
from tinyjax.lax.conv import _transpose_padding, conv_dimension_numbers, padtype_to_pads
from tinyjax.ops.conv import _out_size


def _pairs(padding, what):
    pads = [tuple(int(v) for v in p) for p in padding]
    if any(len(p) != 2 for p in pads):
        raise ValueError(f'{what}: padding must be a string or a sequence of (low, high) '
                         f'pairs, got {padding!r}')
    return pads


def _conv_out_shape(lhs_shape, rhs_shape, dn, spatial_sizes):
    out = [0] * len(lhs_shape)
    out[dn.out_spec[0]] = lhs_shape[dn.lhs_spec[0]]
    out[dn.out_spec[1]] = rhs_shape[dn.rhs_spec[0]]
    for axis, size in zip(dn.out_spec[2:], spatial_sizes):
        out[axis] = size
    return tuple(out)


def _spatial(lhs_shape, rhs_shape, dimension_numbers, what):
    """(dimension numbers, input spatial sizes, kernel spatial sizes)."""
    if dimension_numbers is None:
        # Unlike conv_general_dilated, JAX's shape tuples have no default layout: None is
        # a TypeError there too.
        raise TypeError(f'{what}: dimension_numbers is required, e.g. '
                        "('NCHW', 'OIHW', 'NCHW') or ('NHWC', 'HWIO', 'NHWC'); got None")
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    return (dn, [lhs_shape[a] for a in dn.lhs_spec[2:]],
            [rhs_shape[a] for a in dn.rhs_spec[2:]])


def conv_general_shape_tuple(lhs_shape, rhs_shape, window_strides, padding,
                             dimension_numbers):
    lhs_shape, rhs_shape = tuple(lhs_shape), tuple(rhs_shape)
    dn, ins, ks = _spatial(lhs_shape, rhs_shape, dimension_numbers, 'conv_general_shape_tuple')
    if len(window_strides) != len(ins):
        raise ValueError(f'conv_general_shape_tuple: window_strides={tuple(window_strides)} '
                         f'needs one entry per spatial dimension ({len(ins)})')
    pads = (padtype_to_pads(ins, ks, window_strides, padding) if isinstance(padding, str)
            else _pairs(padding, 'conv_general_shape_tuple'))
    sizes = [_out_size(n, k, s, 1, 1, lo, hi)
             for n, k, s, (lo, hi) in zip(ins, ks, window_strides, pads)]
    return _conv_out_shape(lhs_shape, rhs_shape, dn, sizes)


def conv_transpose_shape_tuple(lhs_shape, rhs_shape, window_strides, padding,
                               dimension_numbers):
    lhs_shape, rhs_shape = tuple(lhs_shape), tuple(rhs_shape)
    dn, ins, ks = _spatial(lhs_shape, rhs_shape, dimension_numbers, 'conv_transpose_shape_tuple')
    pads = ([_transpose_padding(k, s, padding) for k, s in zip(ks, window_strides)]
            if isinstance(padding, str) else _pairs(padding, 'conv_transpose_shape_tuple'))
    # conv_transpose is a stride-1 convolution of the input dilated by the strides.
    sizes = [_out_size(n, k, 1, s, 1, lo, hi)
             for n, k, s, (lo, hi) in zip(ins, ks, window_strides, pads)]
    return _conv_out_shape(lhs_shape, rhs_shape, dn, sizes)


def reduce_window_shape_tuple(operand_shape, window_dimensions, window_strides, padding,
                              base_dilation=None, window_dilation=None):
    nd = len(operand_shape)
    base_dilation = (1,) * nd if base_dilation is None else tuple(base_dilation)
    window_dilation = (1,) * nd if window_dilation is None else tuple(window_dilation)
    for what, v in (('window_dimensions', window_dimensions), ('window_strides', window_strides),
                    ('padding', padding), ('base_dilation', base_dilation),
                    ('window_dilation', window_dilation)):
        if len(v) != nd:
            raise TypeError(f'reduce_window_shape_tuple: {what}={tuple(v)} needs one entry per '
                            f'operand dimension ({nd} for shape {tuple(operand_shape)})')
    pads = _pairs(padding, 'reduce_window_shape_tuple')
    return tuple(_out_size(n, k, s, bd, wd, lo, hi) for n, k, s, bd, wd, (lo, hi) in zip(
        operand_shape, window_dimensions, window_strides, base_dilation, window_dilation, pads))
