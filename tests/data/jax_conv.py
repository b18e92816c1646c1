"""Convolutions evaluated by both JAX and tinyjax: tests/test_conv.py compares tinyjax's
values, cotangents and shapes with those JAX 0.10.2 (CPU, x64) recorded in jax_conv.json.
Regenerate with: /path/to/jax-venv/bin/python tests/data/jax_conv.py > tests/data/jax_conv.json"""
import json

import numpy as np


def inp(shape, phase):
    return np.sin(np.arange(int(np.prod(shape))).reshape(shape) * 0.37 + phase)


CONFIGS = {
    'nhwc_same_stride': dict(l=(1, 5, 4, 2), r=(3, 2, 2, 3), kw=dict(
        window_strides=(2, 1), padding='SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))),
    'nchw_dil_pad': dict(l=(1, 2, 5, 4), r=(2, 2, 2, 2), kw=dict(
        window_strides=(1, 2), padding=((1, 2), (0, 1)), lhs_dilation=(2, 1),
        rhs_dilation=(1, 2))),
    'depthwise_1d': dict(l=(2, 3, 6), r=(6, 1, 3), kw=dict(
        window_strides=(1,), padding='SAME_LOWER', feature_group_count=3)),
    'batch_group': dict(l=(4, 2, 5), r=(4, 2, 2), kw=dict(
        window_strides=(2,), padding=((1, 0),), batch_group_count=2)),
    'ndhwc_3d': dict(l=(1, 3, 2, 3, 2), r=(2, 2, 1, 2, 2), kw=dict(
        window_strides=(1, 1, 2), padding='VALID',
        dimension_numbers=('NDHWC', 'DHWIO', 'NDHWC'))),
}


def _flat(x):
    return np.round(np.asarray(x, np.float64).ravel(), 8).tolist()


def compute(jax, lax, jnp):
    """Every recorded value, as {name: {shape, y[, gl, gr]}} (lists of floats)."""
    out = {}
    for name, c in CONFIGS.items():
        l, r = inp(c['l'], 0.1), inp(c['r'], 0.5)

        def f(a, b, kw=c['kw']):
            return lax.conv_general_dilated(a, b, **kw)
        y = f(l, r)
        w = np.cos(np.arange(y.size).reshape(y.shape))
        gl, gr = jax.grad(lambda a, b: (f(a, b) * w).sum(), (0, 1))(l, r)
        out[name] = dict(shape=list(y.shape), y=_flat(y), gl=_flat(gl), gr=_flat(gr))
    l = inp((1, 4, 3, 2), 0.2)
    for pad in ('SAME', 'VALID'):
        for tk in (False, True):
            r = inp((3, 2, 3, 2) if tk else (3, 2, 2, 3), 0.7)
            y = lax.conv_transpose(l, r, (2, 1), pad, transpose_kernel=tk)
            out[f'transpose_{pad}_{tk}'] = dict(shape=list(y.shape), y=_flat(y))
    y = lax.conv_transpose(inp((1, 2, 5), 0.3), inp((2, 2, 3), 0.9), (2,), ((2, 1),),
                           rhs_dilation=(2,), dimension_numbers=('NCH', 'OIH', 'NCH'))
    out['transpose_explicit'] = dict(shape=list(y.shape), y=_flat(y))
    a, v = inp((7,), 0.0), inp((3,), 1.0)
    for m in ('full', 'same', 'valid'):
        y = jnp.convolve(a, v, m)
        out[f'convolve_{m}'] = dict(shape=list(y.shape), y=_flat(y))
        y = jnp.correlate(v, a, m)
        out[f'correlate_{m}'] = dict(shape=list(y.shape), y=_flat(y))
    return out


if __name__ == '__main__':
    import jax
    import jax.numpy as jnp
    from jax import lax
    jax.config.update('jax_enable_x64', True)
    print(json.dumps(compute(jax, lax, jnp), indent=0))
