"""pure_callback: a host function of array values, with declared result shapes and
dtypes, that runs wherever its values become concrete — eagerly, as an opaque step of a
compiled program, or batched under vmap as its `vmap_method` says. It is pure: unused
results are dropped, and it has no derivative (JAX's rule: use custom_jvp around it)."""
import numpy as np

from tinyjax.core.array import ArrayImpl, default_device
from tinyjax.core.ir import io_effect, ordered_io_effect
from tinyjax.errors import JaxRuntimeError
from tinyjax.ops import common, structural

VMAP_METHODS = ('sequential', 'sequential_unrolled', 'expand_dims', 'broadcast_all',
                'legacy_vectorized')


def _abstract(*avals, callback, result_avals, **params):
    return list(result_avals)


def _eager_rule(op):
    """Run the host function on NumPy values and check its results against the
    declared shapes; errors name `op`."""
    def eager(*arrays, callback, result_avals, **params):
        outs = callback(*[np.asarray(a) for a in arrays])
        dev = arrays[0].device if arrays else default_device()
        results = []
        for o, aval in zip(outs, result_avals):
            o = np.asarray(o)
            if o.shape != aval.shape:
                raise JaxRuntimeError(f'{op}: the callback returned an array of shape '
                                      f'{o.shape} where {aval.str_short()} was declared')
            results.append(ArrayImpl(dev.put(o.astype(aval.dtype)), dev, False))
        return results
    return eager


def _jvp(primals, tangents, **params):
    raise ValueError('Pure callbacks do not support JVP. Please use `jax.custom_jvp` to use '
                     'callbacks while taking gradients.')


def _per_example(callback, batched, size, n_out):
    """A host function of batched arrays calling `callback` once per example, in order
    (as if the function ran in a loop), its results stacked."""
    def host(*arrays):
        per = [callback(*[a[i] if b else a for a, b in zip(arrays, batched)])
               for i in range(size)]
        return [np.stack([np.asarray(p[j]) for p in per]) for j in range(n_out)]
    return host


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
        host = _per_example(callback, [d is not None for d in dims], size, len(out_avals))
    else:
        host = callback
    outs = pure_callback_p.bind(*moved, callback=host, result_avals=out_avals,
                                vmap_method=vmap_method)
    return outs, [0] * len(outs)


pure_callback_p = common.define('pure_callback', _abstract, None, _jvp, batch=_batch,
                                multiple_results=True)
pure_callback_p.eager = _eager_rule('pure_callback')


# io_callback: an impure host call. It is effectful, so it is never dropped, merged or
# run ahead of time, and it runs in program order (`ordered` adds nothing here: tinyjax
# runs host calls synchronously, in order, on every path).
def _io_jvp(primals, tangents, **params):
    raise ValueError('IO callbacks do not support JVP.')


def _io_transpose(cts, *args, **params):
    raise ValueError('IO callbacks do not support transpose.')


def _io_batch(args, dims, callback, result_avals, sharding, ordered):
    if ordered:
        raise ValueError('Cannot `vmap` ordered IO callback.')
    size = common.batch_size(args, dims)
    moved = [common.move_batch_axis(x, d, 0) if d is not None else x for x, d in zip(args, dims)]
    out_avals = tuple(a.update(shape=(size,) + a.shape) for a in result_avals)
    host = _per_example(callback, [d is not None for d in dims], size, len(out_avals))
    outs = io_callback_p.bind(*moved, callback=host, result_avals=out_avals, sharding=sharding,
                              ordered=False)
    return outs, [0] * len(outs)


io_callback_p = common.define('io_callback', _abstract, None, _io_jvp, _io_transpose, _io_batch,
                              multiple_results=True)
io_callback_p.eager = _eager_rule('io_callback')
io_callback_p.effectful = True
io_callback_p.effects_rule = lambda ordered, **_: [ordered_io_effect if ordered else io_effect]
