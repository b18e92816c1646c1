"""pure_callback: a host function of array values, with declared result shapes and
dtypes, that runs wherever its values become concrete — eagerly, as an opaque step of a
compiled program, or batched under vmap as its `vmap_method` says. It is pure: unused
results are dropped, and it has no derivative (JAX's rule: use custom_jvp around it)."""
import numpy as np

from tinyjax.core.array import ArrayImpl, default_device
from tinyjax.errors import JaxRuntimeError
from tinyjax.ops import common, structural

VMAP_METHODS = ('sequential', 'sequential_unrolled', 'expand_dims', 'broadcast_all',
                'legacy_vectorized')


def _abstract(*avals, callback, result_avals, vmap_method):
    return list(result_avals)


def _eager(*arrays, callback, result_avals, vmap_method):
    outs = callback(*[np.asarray(a) for a in arrays])
    dev = arrays[0].device if arrays else default_device()
    results = []
    for o, aval in zip(outs, result_avals):
        o = np.asarray(o)
        if o.shape != aval.shape:
            raise JaxRuntimeError(f'pure_callback: the callback returned an array of shape '
                                  f'{o.shape} where {aval.str_short()} was declared')
        results.append(ArrayImpl(dev.put(o.astype(aval.dtype)), dev, False))
    return results


def _jvp(primals, tangents, **params):
    raise ValueError('Pure callbacks do not support JVP. Please use `jax.custom_jvp` to use '
                     'callbacks while taking gradients.')


def _batch(args, dims, callback, result_avals, vmap_method):
    if vmap_method not in VMAP_METHODS:
        raise NotImplementedError(
            'vmap is only supported for the pure_callback primitive when vmap_method is one of '
            "'sequential', 'sequential_unrolled', 'expand_dims', 'broadcast_all', or "
            f"'legacy_vectorized'. Got vmap_method={vmap_method!r}.")
    size = common.batch_size(args, dims)
    out_avals = tuple(a.update(shape=(size,) + a.shape) for a in result_avals)
    moved = []
    for x, d in zip(args, dims):
        if d is not None:
            moved.append(common.move_batch_axis(x, d, 0))
        elif vmap_method == 'broadcast_all':
            moved.append(common.move_batch_axis(x, None, 0, size))
        elif vmap_method == 'expand_dims':
            moved.append(structural.reshape(x, (1,) + common.aval_of(x).shape))
        else:
            moved.append(x)
    if vmap_method.startswith('sequential'):
        batched = [d is not None for d in dims]

        def host(*arrays):
            # One call per example, as if the function ran in a loop, results stacked.
            per = [callback(*[a[i] if b else a for a, b in zip(arrays, batched)])
                   for i in range(size)]
            return [np.stack([np.asarray(p[j]) for p in per]) for j in range(len(out_avals))]
    else:
        host = callback
    outs = pure_callback_p.bind(*moved, callback=host, result_avals=out_avals,
                                vmap_method=vmap_method)
    return outs, [0] * len(outs)


pure_callback_p = common.define('pure_callback', _abstract, None, _jvp, batch=_batch,
                                multiple_results=True)
pure_callback_p.eager = _eager
