"""jnp.fft (the lax.fft primitive) and tinyjax.scipy.signal against what JAX 0.10.2 gave
for the program in tests/data/jax_fft_signal.py, plus the primitive's rules: finite
differences through every transform type, vmap and jit."""
import importlib.util
import json
import os

import numpy as np
import pytest

import tinyjax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.test_util import check_grads

_DATA = os.path.join(os.path.dirname(__file__), 'data')
_spec = importlib.util.spec_from_file_location('jax_fft_signal',
                                               os.path.join(_DATA, 'jax_fft_signal.py'))
recorder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recorder)
with open(os.path.join(_DATA, 'jax_fft_signal.json')) as f:
    REC = json.load(f)


@pytest.fixture(scope='module')
def ours():
    return recorder.run(tinyjax)


@pytest.mark.parametrize('group, name', [(g, n) for g in ('fft', 'signal', 'grad')
                                         for n in sorted(REC[g])])
def test_matches_jax(ours, group, name):
    got, want = ours[group][name], REC[group][name]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize('kind, shape, lengths', [
    ('FFT', (2, 5), (5,)), ('IFFT', (3, 4), (3, 4)), ('RFFT', (2, 6), (6,)),
    ('RFFT', (3, 5), (3, 5)), ('IRFFT', (2, 4), (6,)), ('IRFFT', (3, 3), (3, 5)),
])
def test_primitive_derivatives(kind, shape, lengths):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    if kind in ('FFT', 'IFFT', 'IRFFT'):
        x = x + 1j * rng.standard_normal(shape)
        if kind == 'IRFFT':
            # A real signal's half spectrum: irfft reads it as Hermitian, and finite
            # differences in the ignored imaginary parts (DC, Nyquist) are then zero too.
            x = np.fft.rfftn(rng.standard_normal(shape[:-1] + (lengths[-1],)), axes=(-2, -1)
                             if len(lengths) == 2 else (-1,))
    # A real-valued function of the transform, so check_grads sees a real output.
    weights = rng.standard_normal(tinyjax.eval_shape(
        lambda v: lax.fft(v, kind, lengths), tinyjax.ShapeDtypeStruct(
            shape if kind != 'IRFFT' else x.shape, x.dtype)).shape)

    def f(v):
        y = lax.fft(v, kind, lengths)
        return y * weights if kind in ('IRFFT',) else lax.fft(y * weights, 'FFT', y.shape[-1:]) \
            if kind in ('FFT', 'IFFT') else lax.fft(y * weights, 'IRFFT', lengths)
    with tinyjax.enable_x64():
        if kind == 'IRFFT' or kind == 'RFFT':
            check_grads(f, (x,), order=2, rtol=1e-6)
        else:
            out = f(x)
            assert out.dtype == np.complex128
            # Linear: the JVP is the transform of the tangent, the VJP its transpose.
            t = rng.standard_normal(shape) + 0j
            _, jt = tinyjax.jvp(f, (x,), (t,))
            np.testing.assert_allclose(np.asarray(jt), np.asarray(f(t)), rtol=1e-10)
            ct = rng.standard_normal(out.shape) + 0j
            (back,) = tinyjax.vjp(f, x)[1](ct)
            # <ct, f(t)> == <f^T(ct), t> (bilinear, no conjugation: JAX's convention).
            np.testing.assert_allclose(np.sum(np.asarray(ct) * np.asarray(f(t))),
                                       np.sum(np.asarray(back) * t), rtol=1e-10)


def test_vmap_and_jit_agree_with_eager():
    x = jnp.asarray(recorder._inp((4, 3, 8)))
    f = lambda v: jnp.fft.irfft(jnp.fft.rfft(v, axis=0) * 2.0, 4, axis=0)  # noqa: E731
    np.testing.assert_allclose(np.asarray(tinyjax.vmap(f)(x)),
                               np.stack([np.asarray(f(v)) for v in x]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(tinyjax.jit(f)(x)), np.asarray(f(x)), rtol=1e-6)


def test_bad_input_errors():
    with pytest.raises(TypeError, match='complex64 or complex128'):
        lax.fft(jnp.ones(4), 'FFT', (4,))
    with pytest.raises(ValueError, match='last 1 axes must equal fft_lengths'):
        lax.fft(jnp.ones(4, jnp.complex64), 'FFT', (5,))
    with pytest.raises(ValueError, match='invalid norm'):
        jnp.fft.fft(jnp.ones(4), norm='half')
    from tinyjax.scipy import signal
    with pytest.raises(ValueError, match="'valid' mode"):
        signal.convolve(jnp.ones((2, 5)), jnp.ones((3, 2)), 'valid')
    with pytest.raises(ValueError, match='mode must be one of'):
        signal.correlate(jnp.ones(3), jnp.ones(2), 'middle')
    with pytest.raises(NotImplementedError, match="boundary='fill'"):
        signal.convolve2d(jnp.ones((3, 3)), jnp.ones((2, 2)), boundary='wrap')
