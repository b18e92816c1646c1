"""tinyjax.numpy.fft: NumPy's FFT API on the lax.fft primitive (ops/fft.py). Transforms
over arbitrary axes move those axes last, transform, and move them back; `n`/`s` crop
or zero-pad first, and `norm` ('backward', 'ortho', 'forward') rescales as NumPy does."""
import math

import numpy as np

from tinyjax import dtypes, lax
from tinyjax.numpy import conversion, manipulation
from tinyjax.ops.fft import fft as _fft_prim

_NORMS = (None, 'backward', 'ortho', 'forward')


def _resize(a, axis, n):
    """a cropped or zero-padded to length n along axis."""
    size = a.shape[axis]
    if n == size:
        return a
    if n < size:
        return lax.slice_in_dim(a, 0, n, axis=axis)
    config = [(0, 0, 0)] * a.ndim
    config[axis] = (0, n - size, 0)
    return lax.pad(a, conversion.asarray(0, a.dtype), config)


def _scale(out, norm, n_total, inverse, op):
    if norm not in _NORMS:
        raise ValueError(f'{op}: invalid norm {norm!r}; use None, "backward", "ortho" or '
                         '"forward"')
    # The primitive computes the 'backward' convention (1/N on the inverse).
    factor = {None: 1.0, 'backward': 1.0, 'ortho': math.sqrt(n_total) if inverse else
              1 / math.sqrt(n_total), 'forward': float(n_total) if inverse else 1 / n_total}[norm]
    return out if factor == 1.0 else out * conversion.asarray(factor, dtypes.canonicalize(
        np.float64 if out.dtype in (np.float64, np.complex128) else np.float32))


def _axes_and_sizes(a, s, axes, op):
    if axes is None:
        axes = tuple(range(a.ndim)) if s is None else tuple(range(a.ndim - len(s), a.ndim))
    axes = tuple(ax % a.ndim if -a.ndim <= ax < a.ndim else _bad_axis(ax, a, op) for ax in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f'{op}: axes {axes} repeat an axis')
    if s is not None and len(s) != len(axes):
        raise ValueError(f'{op}: s={tuple(s)} and axes={axes} must have the same length')
    return axes, s


def _bad_axis(ax, a, op):
    raise np.exceptions.AxisError(f'{op}: axis {ax} is out of bounds for an array of rank {a.ndim}')


def _to_complex(a):
    a = conversion.asarray(a)
    if dtypes.is_complex(a.dtype):
        return a
    return a.astype(dtypes.canonicalize(np.complex128) if a.dtype == np.float64
                     else np.complex64)


def _to_real(a):
    (a,) = conversion.promote_inexact(conversion.asarray(a))
    if dtypes.is_complex(a.dtype):
        raise TypeError(f'rfft: the input must be real, got {a.dtype}')
    return a.astype(np.float32) if a.dtype in (np.float16, dtypes.bfloat16) else a


def _transform(a, kind, s, axes, norm, op):
    """One n-dimensional transform of `kind` (FFT, IFFT, RFFT, IRFFT) over axes."""
    a = _to_real(a) if kind == 'RFFT' else _to_complex(a)
    axes, s = _axes_and_sizes(a, s, axes, op)
    if not axes:
        return a
    # Out lengths: what the transform produces; IRFFT's input last axis is n//2 + 1.
    if s is None:
        lengths = [a.shape[ax] for ax in axes]
        if kind == 'IRFFT':
            lengths[-1] = 2 * (a.shape[axes[-1]] - 1)
    else:
        lengths = [int(n) for n in s]
    for ax, n in zip(axes, lengths):
        if n < 1:
            raise ValueError(f'{op}: invalid number of FFT data points ({n}) along axis {ax}')
    in_lengths = list(lengths)
    if kind == 'IRFFT':
        in_lengths[-1] = lengths[-1] // 2 + 1
    for ax, n in zip(axes, in_lengths):
        a = _resize(a, ax, n)
    rest = [i for i in range(a.ndim) if i not in axes]
    perm = rest + list(axes)
    moved = lax.transpose(a, tuple(perm)) if perm != list(range(a.ndim)) else a
    out = _fft_prim(moved, kind, tuple(lengths))
    if perm != list(range(a.ndim)):
        out = lax.transpose(out, tuple(int(i) for i in np.argsort(perm)))
    return _scale(out, norm, int(np.prod(lengths)), kind in ('IFFT', 'IRFFT'), op)


def _one_axis(kind, name):
    def f(a, n=None, axis=-1, norm=None):
        return _transform(a, kind, None if n is None else (n,), (axis,), norm, name)
    f.__name__ = name
    f.__doc__ = f'numpy.fft.{name} along one axis (n crops or zero-pads first).'
    return f


def _n_axes(kind, name, default_axes):
    def f(a, s=None, axes=default_axes, norm=None):
        return _transform(a, kind, s, axes, norm, name)
    f.__name__ = name
    f.__doc__ = f'numpy.fft.{name}.'
    return f


fft, ifft = _one_axis('FFT', 'fft'), _one_axis('IFFT', 'ifft')
rfft, irfft = _one_axis('RFFT', 'rfft'), _one_axis('IRFFT', 'irfft')
fft2, ifft2 = _n_axes('FFT', 'fft2', (-2, -1)), _n_axes('IFFT', 'ifft2', (-2, -1))
rfft2, irfft2 = _n_axes('RFFT', 'rfft2', (-2, -1)), _n_axes('IRFFT', 'irfft2', (-2, -1))
fftn, ifftn = _n_axes('FFT', 'fftn', None), _n_axes('IFFT', 'ifftn', None)
rfftn, irfftn = _n_axes('RFFT', 'rfftn', None), _n_axes('IRFFT', 'irfftn', None)


# hfft / ihfft: the transforms of a signal with Hermitian symmetry in time. hfft is the
# inverse real transform of conj(a) and ihfft the conjugated real transform, each with the
# opposite normalisation ('backward' scales ihfft by 1/n, hfft not at all).
_OPPOSITE_NORM = {None: 'forward', 'backward': 'forward', 'ortho': 'ortho', 'forward': 'backward'}


def _opposite(norm, op):
    if norm not in _OPPOSITE_NORM:
        raise ValueError(f'jnp.fft.{op}: norm must be one of {_NORMS}, got {norm!r}')
    return _OPPOSITE_NORM[norm]


def hfft(a, n=None, axis=-1, norm=None):
    """numpy.fft.hfft: the real spectrum of a Hermitian-symmetric signal given its first
    half a (n defaults to 2 * (len - 1))."""
    a = conversion.asarray(a)
    if n is None:
        ax = axis if -a.ndim <= axis < a.ndim else _bad_axis(axis, a, 'hfft')
        n = 2 * (a.shape[ax] - 1)
    conj = lax.conj(_to_complex(a))
    return _transform(conj, 'IRFFT', (n,), (axis,), _opposite(norm, 'hfft'), 'hfft')


def ihfft(a, n=None, axis=-1, norm=None):
    """numpy.fft.ihfft: the inverse of hfft, from a real signal to half a Hermitian
    spectrum."""
    out = _transform(a, 'RFFT', None if n is None else (n,), (axis,),
                     _opposite(norm, 'ihfft'), 'ihfft')
    return lax.conj(out)


def fftfreq(n, d=1.0, *, dtype=None, device=None):
    """Sample frequencies: [0, 1, ..., (n-1)//2, -(n//2), ..., -1] / (d n)."""
    n = int(n)
    k = np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)])
    dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    return conversion.asarray(k, dtype) / conversion.asarray(d * n, dtype)


def rfftfreq(n, d=1.0, *, dtype=None, device=None):
    """The non-negative sample frequencies [0, 1, ..., n//2] / (d n)."""
    n = int(n)
    dtype = dtypes.canonicalize(dtype or dtypes.default_float())
    return conversion.asarray(np.arange(0, n // 2 + 1), dtype) / conversion.asarray(d * n, dtype)


def _shift(x, axes, sign):
    x = conversion.asarray(x)
    axes = tuple(range(x.ndim)) if axes is None else (axes,) if isinstance(axes, int) else tuple(axes)
    shifts = tuple(sign * (x.shape[ax] // 2) for ax in axes)
    return manipulation.roll(x, shifts, axes)


def fftshift(x, axes=None):
    """Move the zero frequency to the centre."""
    return _shift(x, axes, 1)


def ifftshift(x, axes=None):
    """The inverse of fftshift (they differ for odd lengths)."""
    return _shift(x, axes, -1)
