"""The FFT primitive: a discrete Fourier transform over the trailing len(fft_lengths)
axes (lax.fft). fft_type is one of

    FFT    complex -> complex            IFFT   its inverse (scaled by 1/N)
    RFFT   real -> complex, last axis n//2+1 long (the non-negative frequencies)
    IRFFT  complex (n//2+1) -> real n, the inverse of RFFT
    RFFT_T, IRFFT_T   the transposes of RFFT and IRFFT

The DFT matrix is symmetric, so FFT and IFFT are their own transposes. RFFT and IRFFT
are only real-linear (IRFFT reads a half spectrum as Hermitian); their transposes are
two more members of the family (each the other's way round: transposing RFFT_T gives
RFFT back), so the family is closed under transposition and every rule is one line.
The transposes follow JAX's: RFFT^T(t) = N irfft(conj(t) / m) and IRFFT^T(t) =
conj(m rfft(t)) / N, with m = 2 at frequencies that stand for a conjugate pair, else 1.

NumPy's pocketfft computes it on the CPU and cuFFT (through cupy.fft) on a GPU; under
jit it runs as an opaque step (no fused lowering).
"""
import numpy as np

from tinyjax import dtypes
from tinyjax.core.ir import ShapedArray
from tinyjax.ops import common

FFT_TYPES = ('FFT', 'IFFT', 'RFFT', 'IRFFT', 'RFFT_T', 'IRFFT_T')
_TRANSPOSE = {'FFT': 'FFT', 'IFFT': 'IFFT', 'RFFT': 'RFFT_T', 'RFFT_T': 'RFFT',
              'IRFFT': 'IRFFT_T', 'IRFFT_T': 'IRFFT'}
_REAL_IN = ('RFFT', 'IRFFT_T')          # real -> complex half spectrum
_HALF_IN = ('IRFFT', 'RFFT_T')          # complex half spectrum -> real


def _complex_of(dtype):
    return np.dtype(np.complex128 if np.dtype(dtype) == np.float64 else np.complex64)


def _real_of(dtype):
    return np.dtype(np.float64 if np.dtype(dtype) == np.complex128 else np.float32)


def _abstract(x, fft_type, fft_lengths):
    k = len(fft_lengths)
    what = f'lax.fft ({fft_type}, fft_lengths={fft_lengths}) of {x.str_short()}'
    if fft_type not in FFT_TYPES:
        raise ValueError(f'lax.fft: fft_type must be one of {FFT_TYPES}, got {fft_type!r}')
    if not 1 <= k <= 3 or x.ndim < k:
        raise ValueError(f'{what}: needs 1 to 3 transform axes, no more than the operand has')
    if fft_type in _REAL_IN:
        if not dtypes.is_float(x.dtype) or x.dtype not in (np.float32, np.float64):
            raise TypeError(f'{what}: the operand must be float32 or float64')
        if x.shape[-k:] != tuple(fft_lengths):
            raise ValueError(f'{what}: the last {k} axes must equal fft_lengths')
        shape = x.shape[:-1] + (fft_lengths[-1] // 2 + 1,)
        return ShapedArray(shape, _complex_of(x.dtype))
    if not dtypes.is_complex(x.dtype):
        raise TypeError(f'{what}: the operand must be complex64 or complex128 (convert a real '
                        'input with x.astype(jnp.complex64), or use RFFT)')
    if fft_type in _HALF_IN:
        want = tuple(fft_lengths[:-1]) + (fft_lengths[-1] // 2 + 1,)
        if x.shape[-k:] != want:
            raise ValueError(f'{what}: the last {k} axes must be {want} (n // 2 + 1 on the last)')
        return ShapedArray(x.shape[:-1] + (fft_lengths[-1],), _real_of(x.dtype))
    if x.shape[-k:] != tuple(fft_lengths):
        raise ValueError(f'{what}: the last {k} axes must equal fft_lengths')
    return ShapedArray(x.shape, x.dtype)


def _pair_weights(xp, n, like_ndim, dtype):
    """m over the half spectrum of length n // 2 + 1: 1 at 0 (and n/2 for even n), else 2."""
    m = np.full(n // 2 + 1, 2.0)
    m[0] = 1.0
    if n % 2 == 0:
        m[-1] = 1.0
    return xp.asarray(m.reshape((1,) * (like_ndim - 1) + (-1,)), dtype=dtype)


def _impl(xp, x, fft_type, fft_lengths):
    k = len(fft_lengths)
    axes = tuple(range(x.ndim - k, x.ndim))
    n_total = int(np.prod(fft_lengths))
    if fft_type == 'FFT':
        out = xp.fft.fftn(x, axes=axes)
    elif fft_type == 'IFFT':
        out = xp.fft.ifftn(x, axes=axes)
    elif fft_type == 'RFFT':
        out = xp.fft.rfftn(x, axes=axes)
    elif fft_type == 'IRFFT':
        out = xp.fft.irfftn(x, s=fft_lengths, axes=axes)
    elif fft_type == 'RFFT_T':
        w = _pair_weights(xp, fft_lengths[-1], x.ndim, x.real.dtype)
        out = n_total * xp.fft.irfftn(xp.conj(x) / w, s=fft_lengths, axes=axes)
    else:   # IRFFT_T
        w = _pair_weights(xp, fft_lengths[-1], x.ndim, x.dtype)
        out = xp.conj(w * xp.fft.rfftn(x, axes=axes)) / n_total
    aval = _abstract(ShapedArray(x.shape, x.dtype), fft_type, fft_lengths)
    return out.astype(aval.dtype, copy=False)


def _jvp(primals, tangents, fft_type, fft_lengths):
    (x,), (t,) = primals, tangents
    y = fft(x, fft_type, fft_lengths)
    return y, None if t is None else fft(t, fft_type, fft_lengths)


def _transpose(ct, x, fft_type, fft_lengths):
    return [None if ct is None else fft(ct, _TRANSPOSE[fft_type], fft_lengths)]


def _batch(args, dims, fft_type, fft_lengths):
    # The transform axes are trailing: a leading batch axis is just one more.
    (x,), (d,) = args, dims
    return fft(common.move_batch_axis(x, d, 0), fft_type, fft_lengths), 0


fft_p = common.define('fft', _abstract, _impl, _jvp, _transpose, _batch)


def fft(x, fft_type, fft_lengths):
    """lax.fft: fft_type a name above (or an object with .name, like JAX's FftType)."""
    fft_type = getattr(fft_type, 'name', fft_type)
    return fft_p.bind(x, fft_type=str(fft_type).upper(),
                      fft_lengths=tuple(int(n) for n in fft_lengths))
