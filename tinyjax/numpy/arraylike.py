"""JAX's refusal of Python lists and tuples where a jnp function takes an array.

`jnp.sum([1, 2, 3])` raises TypeError in JAX: an implicit conversion would hide a host to
device copy (and, under jit, a constant per element). JAX checks particular arguments of
each function; the table below records, for every public jnp function that refuses a
list in JAX 0.10.2, which positional arguments it checks. `guard_namespace` wraps those
functions of the `tinyjax.numpy` namespace; code inside tinyjax calls the unwrapped
functions and may still pass lists.
"""
import functools

# Positions of the checked arguments; '*' checks every positional argument.
_CHECKED = {
    (0,): """abs absolute acos acosh all amax amin angle any append arccos arccosh arcsin
        arcsinh arctan arctanh argmax argmin argsort argwhere around array_split asin asinh
        astype atan atanh bincount bitwise_count bitwise_invert bitwise_not broadcast_to
        cbrt ceil choose clip conj conjugate copy corrcoef cos cosh count_nonzero cov
        cumprod cumsum cumulative_prod cumulative_sum deg2rad degrees diag
        diag_indices_from diagflat diagonal dsplit empty_like exp exp2 expand_dims expm1
        extract fabs flatnonzero flip fliplr flipud floor frexp hsplit i0 imag invert
        iscomplex isfinite isinf isnan isneginf isposinf isreal log log10 log1p log2
        logical_not matrix_transpose max mean median min modf nan_to_num nanargmax
        nanargmin nancumprod nancumsum nanmax nanmean nanmedian nanmin nanprod nanstd
        nansum nanvar nonzero ones_like packbits pad permute_dims poly polyder positive
        prod ptp rad2deg radians ravel real reciprocal reshape rint roll roots rot90 round
        sign signbit sin sinc sinh sort sort_complex spacing split sqrt square squeeze std
        sum tan tanh tile trace transpose tril tril_indices_from trim_zeros triu
        triu_indices_from trunc unique unique_all unique_counts unique_inverse
        unique_values unpackbits unravel_index unstack unwrap vander var vsplit
        zeros_like""",
    (0, 1): """allclose arctan2 atan2 bitwise_left_shift bitwise_right_shift compress
        convolve copysign correlate cross delete digitize divide divmod dot equal
        float_power floor_divide fmax fmin fmod full_like gcd greater greater_equal
        heaviside histogram2d histogram_bin_edges hypot inner intersect1d isclose isin
        kron lcm ldexp left_shift less less_equal linspace matmul matvec mod
        nanpercentile nanquantile nextafter not_equal outer percentile polyadd polydiv
        polymul polysub polyval pow power quantile remainder repeat right_shift setdiff1d
        setxor1d take take_along_axis tensordot trapezoid true_divide union1d vdot vecdot
        vecmat""",
    '*': """add atleast_1d atleast_2d atleast_3d bitwise_and bitwise_or bitwise_xor
        broadcast_arrays ix_ logaddexp logaddexp2 logical_and logical_or logical_xor
        maximum meshgrid minimum multiply negative subtract""",
    (1,): 'full',
    (0, 2): 'polyint',
    (0, 1, 2): 'ediff1d where',
    (0, 1, 3): 'histogram searchsorted',
    (0, 3): 'histogramdd diff',
}
CHECKED_ARGS = {name: pos for pos, names in _CHECKED.items() for name in names.split()}


def check_arraylike(name, *args):
    """Raise JAX's TypeError when one of args is a list or tuple."""
    for i, a in enumerate(args):
        if isinstance(a, (list, tuple)):
            raise TypeError(f'{name} requires ndarray or scalar arguments, got {type(a)} at '
                            f'position {i}.')


def _guarded(fn, name, positions):
    if positions == '*':
        @functools.wraps(fn)
        def f(*args, **kwargs):
            check_arraylike(name, *args)
            return fn(*args, **kwargs)
    else:
        @functools.wraps(fn)
        def f(*args, **kwargs):
            check_arraylike(name, *[args[i] for i in positions if i < len(args)])
            return fn(*args, **kwargs)
    f.__wrapped_unchecked__ = fn
    return f


def guard_namespace(namespace):
    """Wrap the checked functions found in a module's globals (tinyjax.numpy's)."""
    for name, positions in CHECKED_ARGS.items():
        fn = namespace.get(name)
        if callable(fn) and not hasattr(fn, '__wrapped_unchecked__'):
            namespace[name] = _guarded(fn, name, positions)
