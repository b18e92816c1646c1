"""jnp.fft and jax.scipy.signal run by JAX 0.10.2 (CPU): `run(jax_like)` computes every
case with a module that looks like jax (jax here, tinyjax in tests/test_fft_signal.py).
Regenerate with /path/to/jax-venv/bin/python tests/data/jax_fft_signal.py > tests/data/jax_fft_signal.json"""
import json

import numpy as np


def _inp(shape, phase=0.0):
    return np.sin(np.arange(int(np.prod(shape))).reshape(shape) * 0.37 + phase).astype(np.float32)


def _flat(x):
    x = np.asarray(x)
    if np.iscomplexobj(x):
        return [np.round(x.real.ravel(), 5).tolist(), np.round(x.imag.ravel(), 5).tolist()]
    return [np.round(x.astype(np.float64).ravel(), 5).tolist()]


def run(jax):
    from importlib import import_module
    jnp = jax.numpy
    fft = jnp.fft
    signal = import_module(jax.__name__ + '.scipy.signal')
    x = jnp.asarray(_inp((3, 8)))
    c = jnp.asarray(_inp((3, 8), 1.0)) + 0j
    half = fft.rfft(jnp.asarray(_inp((3, 8), 2.0)))
    out = {'fft': {}, 'signal': {}, 'grad': {}}
    cases = {
        'fft': lambda: fft.fft(x), 'ifft_c': lambda: fft.ifft(c), 'rfft': lambda: fft.rfft(x),
        'irfft': lambda: fft.irfft(half), 'irfft_n9': lambda: fft.irfft(half, 9),
        'fft_n5_axis0_ortho': lambda: fft.fft(x, 5, axis=0, norm='ortho'),
        'rfft_n12_forward': lambda: fft.rfft(x, 12, norm='forward'),
        'fft2': lambda: fft.fft2(x), 'ifft2_c': lambda: fft.ifft2(c, s=(4, 6)),
        'rfft2': lambda: fft.rfft2(x), 'irfft2': lambda: fft.irfft2(half, s=(3, 8)),
        'fftn_axes': lambda: fft.fftn(x, axes=(0,)), 'rfftn': lambda: fft.rfftn(x, s=(2, 6)),
        'irfftn': lambda: fft.irfftn(half), 'fftfreq': lambda: fft.fftfreq(7, 0.5),
        'rfftfreq': lambda: fft.rfftfreq(8), 'fftshift': lambda: fft.fftshift(x),
        'ifftshift_axis': lambda: fft.ifftshift(jnp.arange(7.0), axes=0),
        'hfft': lambda: fft.hfft(half), 'hfft_n7_axis0': lambda: fft.hfft(c, 7, axis=0),
        'hfft_ortho': lambda: fft.hfft(half, norm='ortho'),
        'hfft_forward_n12': lambda: fft.hfft(half, 12, norm='forward'),
        'ihfft': lambda: fft.ihfft(x), 'ihfft_n5_axis0_ortho': lambda: fft.ihfft(x, 5, 0, 'ortho'),
        'ihfft_forward': lambda: fft.ihfft(x, norm='forward'),
    }
    for name, f in cases.items():
        out['fft'][name] = _flat(f())
    a1, b1 = jnp.asarray(_inp((9,))), jnp.asarray(_inp((4,), 0.5))
    a2, b2 = jnp.asarray(_inp((5, 6))), jnp.asarray(_inp((2, 3), 0.5))
    big2 = jnp.asarray(_inp((6, 7), 1.5))
    for mode in ('full', 'same', 'valid'):
        for name, args in (('1d', (a1, b1)), ('2d', (a2, b2)), ('2d_swap', (b2, big2))):
            for fn in ('convolve', 'correlate', 'fftconvolve'):
                out['signal'][f'{fn}_{name}_{mode}'] = _flat(getattr(signal, fn)(*args, mode=mode))
            if name != '1d':
                for fn in ('convolve2d', 'correlate2d'):
                    out['signal'][f'{fn}_{name}_{mode}'] = _flat(getattr(signal, fn)(*args, mode=mode))
    out['signal']['convolve_fft_method'] = _flat(signal.convolve(a2, b2, method='fft'))
    out['signal']['fftconvolve_axes'] = _flat(signal.fftconvolve(
        jnp.asarray(_inp((3, 7))), jnp.asarray(_inp((3, 4), 1.0)), axes=1))

    def loss(v):
        spec = fft.rfft(v) * fft.rfft(jnp.flip(v, -1))
        return jnp.sum(fft.irfft(spec, 8) ** 2) + jnp.sum(fft.irfft2(fft.rfft2(v) * 0.5) * v)
    out['grad']['rfft_irfft'] = _flat(jax.grad(loss)(x))
    out['grad']['hfft_ihfft'] = _flat(jax.grad(
        lambda v: jnp.sum(fft.hfft(fft.ihfft(v) * (1 + 0.5j)) ** 2))(x))
    out['grad']['fftconvolve'] = _flat(jax.grad(
        lambda v: jnp.sum(signal.fftconvolve(v, b2, 'same') ** 2))(a2))
    out['grad']['convolve2d'] = _flat(jax.grad(
        lambda v: jnp.sum(signal.convolve2d(a2, v, 'valid') ** 2))(b2))
    return out


if __name__ == '__main__':
    import jax
    print(json.dumps(run(jax)))
