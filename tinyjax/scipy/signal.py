"""tinyjax.scipy.signal: N-d convolution and correlation with SciPy's modes.

'direct' (and 'auto') convolutions are one lax.conv_general_dilated over the full
overlap, cut to the mode; 'fft' ones multiply real FFTs (jnp.fft.rfftn). Every mode is a
window of the full result: 'same' is centred on in1's shape, 'valid' is where one input
covers the other, at offset (full - out) // 2 per axis. Real inputs only: tinyjax's
complex support does not reach convolutions yet.
"""
import numpy as np

from tinyjax import lax
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.transforms.batching import vmap

_MODES = ('full', 'same', 'valid')


def _check(in1, in2, mode, op):
    in1, in2 = promote_inexact(in1, in2)
    if mode not in _MODES:
        raise ValueError(f"{op}: mode must be one of ['full', 'same', 'valid'], got {mode!r}")
    if in1.ndim != in2.ndim:
        raise ValueError(f'{op}: in1 and in2 must have the same number of dimensions, got '
                         f'shapes {in1.shape} and {in2.shape}')
    if in1.size == 0 or in2.size == 0:
        raise ValueError(f'{op}: zero-size arrays are not supported, got shapes {in1.shape} '
                         f'and {in2.shape}')
    if jnp.iscomplexobj(in1) or jnp.iscomplexobj(in2):
        raise TypeError(f'{op}: complex inputs are not supported yet, got {in1.dtype} and '
                        f'{in2.dtype}')
    return in1, in2


def _out_shape(shape1, shape2, mode, op):
    full = tuple(a + b - 1 for a, b in zip(shape1, shape2))
    if mode == 'full':
        return full, full
    if mode == 'same':
        return full, tuple(shape1)
    bigger = all(a >= b for a, b in zip(shape1, shape2))
    smaller = all(a <= b for a, b in zip(shape1, shape2))
    if not (bigger or smaller):
        raise ValueError(f"{op}: for 'valid' mode one input must be at least as large as the "
                         f'other in every dimension, got shapes {tuple(shape1)} and {tuple(shape2)}')
    return full, tuple(abs(a - b) + 1 for a, b in zip(shape1, shape2))


def _window(full_result, full, out):
    starts = tuple((f - o) // 2 for f, o in zip(full, out))
    return lax.slice(full_result, starts, tuple(s + o for s, o in zip(starts, out)))


def _direct(in1, in2, mode, precision, op):
    full, out = _out_shape(in1.shape, in2.shape, mode, op)
    # Slide the smaller operand (as the kernel) over the larger; convolution commutes.
    big, small = (in2, in1) if all(a <= b for a, b in zip(in1.shape, in2.shape)) and \
        in1.shape != in2.shape else (in1, in2)
    pads = [(k - 1, k - 1) for k in small.shape]
    result = lax.conv_general_dilated(big[None, None], jnp.flip(small)[None, None],
                                      (1,) * big.ndim, pads, precision=precision)[0, 0]
    return _window(result, full, out)


def convolve(in1, in2, mode='full', method='auto', precision=None):
    in1, in2 = _check(in1, in2, mode, 'convolve')
    if method == 'fft':
        return fftconvolve(in1, in2, mode=mode)
    if method not in ('auto', 'direct'):
        raise ValueError(f"convolve: got method={method!r}; expected 'auto', 'fft', or 'direct'")
    return _direct(in1, in2, mode, precision, 'convolve')


def correlate(in1, in2, mode='full', method='auto', precision=None):
    in1, in2 = _check(in1, in2, mode, 'correlate')
    return convolve(in1, jnp.flip(in2), mode, method=method, precision=precision)


def _check_2d(in1, in2, boundary, fillvalue, op):
    if boundary != 'fill' or fillvalue != 0:
        raise NotImplementedError(f"{op}() only supports boundary='fill', fillvalue=0 (as in "
                                  f'JAX), got boundary={boundary!r}, fillvalue={fillvalue!r}')
    if np.ndim(in1) != 2 or np.ndim(in2) != 2:
        raise ValueError(f'{op}() only supports 2-dimensional inputs, got shapes '
                         f'{np.shape(in1)} and {np.shape(in2)}')


def convolve2d(in1, in2, mode='full', boundary='fill', fillvalue=0, precision=None):
    _check_2d(in1, in2, boundary, fillvalue, 'convolve2d')
    in1, in2 = _check(in1, in2, mode, 'convolve2d')
    return _direct(in1, in2, mode, precision, 'convolve2d')


def correlate2d(in1, in2, mode='full', boundary='fill', fillvalue=0, precision=None):
    """SciPy's correlate2d, including its placement of 'same' and 'valid' windows, which
    (for even sizes, or a larger in2) differs from correlate's by a reflection."""
    _check_2d(in1, in2, boundary, fillvalue, 'correlate2d')
    in1, in2 = _check(in1, in2, mode, 'correlate2d')
    larger2 = all(a <= b for a, b in zip(in1.shape, in2.shape)) and in1.shape != in2.shape
    if mode == 'same' or not larger2:
        return jnp.flip(_direct(jnp.flip(in1), in2, mode, precision, 'correlate2d'))
    return _direct(jnp.flip(in2), in1, mode, precision, 'correlate2d')


def _fftconvolve_all_axes(in1, in2, mode):
    full, out = _out_shape(in1.shape, in2.shape, mode, 'fftconvolve')
    if all(a == 1 or b == 1 for a, b in zip(in1.shape, in2.shape)):
        result = in1 * in2        # an outer product: nothing to transform
    else:
        spectrum = jnp.fft.rfftn(in1, full) * jnp.fft.rfftn(in2, full)
        result = jnp.fft.irfftn(spectrum, full)
    return _window(result, full, out)


def fftconvolve(in1, in2, mode='full', axes=None):
    """Convolution through real FFTs; with `axes`, the other axes are mapped over (their
    sizes must agree)."""
    in1, in2 = _check(in1, in2, mode, 'fftconvolve')
    fn = lambda a, b: _fftconvolve_all_axes(a, b, mode)  # noqa: E731
    if axes is None:
        return fn(in1, in2)
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    axes = tuple(ax % in1.ndim for ax in axes)
    mapped = sorted(set(range(in1.ndim)) - set(axes))
    if any(in1.shape[i] != in2.shape[i] for i in mapped):
        raise ValueError(f'fftconvolve: mapped axes must have the same shape; got in1.shape='
                         f'{in1.shape}, in2.shape={in2.shape}, axes={axes}')
    for ax in mapped:
        fn = vmap(fn, in_axes=ax, out_axes=ax)
    return fn(in1, in2)
