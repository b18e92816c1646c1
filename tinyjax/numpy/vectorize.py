"""jnp.vectorize: a function on core-shaped arrays mapped (by vmap) over leading loop
dimensions that broadcast like NumPy's, as np.vectorize and generalized ufuncs do."""
import functools
import re

import numpy as np

from tinyjax.numpy.conversion import asarray, broadcast_to
from tinyjax.transforms.batching import vmap

__all__ = ['vectorize']

_DIMS = r'\((?:\w+(?:,\s*\w+)*)?\)'
_SIGNATURE = re.compile(rf'^{_DIMS}(?:,\s*{_DIMS})*->{_DIMS}(?:,\s*{_DIMS})*$')


def _parse_signature(signature):
    """'(m,n),(n)->(m)' -> ([('m', 'n'), ('n',)], [('m',)])."""
    if not _SIGNATURE.match(signature.replace(' ', '')):
        raise ValueError(f'not a valid gufunc signature: {signature}')
    ins, outs = signature.replace(' ', '').split('->')

    def groups(text):
        return [tuple(d for d in g.split(',') if d) for g in re.findall(r'\((.*?)\)', text)]
    return groups(ins), groups(outs)


def vectorize(pyfunc, *, excluded=frozenset(), signature=None):
    """Vectorize `pyfunc` over the leading dimensions of its array arguments.

    `signature` (gufunc style, '(n),(n)->()') names each argument's core dimensions; the
    rest are loop dimensions, broadcast together. Arguments whose position or name is in
    `excluded` are passed through unchanged."""
    if any(not isinstance(e, (str, int)) for e in excluded):
        raise TypeError('jax.numpy.vectorize can only exclude integer or string arguments, '
                        f'but excluded={excluded!r}')
    if any(isinstance(e, int) and e < 0 for e in excluded):
        raise ValueError(f'excluded={excluded!r} contains negative numbers')

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        static = {i: a for i, a in enumerate(args) if i in excluded or a is None}
        mapped = [asarray(a) for i, a in enumerate(args) if i not in static]
        if signature is None:
            in_core, out_core = [()] * len(mapped), None
        else:
            in_core, out_core = _parse_signature(signature)
            if len(in_core) != len(mapped):
                raise TypeError(f'wrong number of positional arguments: expected '
                                f'{len(in_core)}, got {len(mapped)} (signature={signature!r})')
        sizes = {}
        for x, core in zip(mapped, in_core):
            if x.ndim < len(core):
                raise ValueError(f'input with shape {x.shape} does not have enough dimensions '
                                 f'for its core dimensions {core} (signature={signature!r})')
            for name, size in zip(core, x.shape[x.ndim - len(core):]):
                if sizes.setdefault(name, size) != size:
                    raise ValueError(f'inconsistent size for core dimension {name!r}: '
                                     f'{sizes[name]} vs {size} (signature={signature!r})')
        loop_shape = np.broadcast_shapes(*[x.shape[:x.ndim - len(c)] for x, c in zip(mapped, in_core)])
        mapped = [broadcast_to(x, loop_shape + x.shape[x.ndim - len(c):])
                  for x, c in zip(mapped, in_core)]

        def core_fn(*xs):
            it = iter(xs)
            full = [static[i] if i in static else next(it) for i in range(len(args))]
            out = pyfunc(*full, **kwargs)
            if out_core is not None:
                _check_outputs(out, out_core, sizes, signature)
            return out

        fn = core_fn
        for _ in loop_shape:
            fn = vmap(fn)
        return fn(*mapped)
    return wrapped


def _check_outputs(out, out_core, sizes, signature):
    outs = out if isinstance(out, tuple) else (out,)
    if len(outs) != len(out_core):
        raise ValueError(f'wrong number of outputs from the vectorized function: expected '
                         f'{len(out_core)}, got {len(outs)} (signature={signature!r})')
    for o, core in zip(outs, out_core):
        shape = asarray(o).shape
        if len(shape) != len(core):
            raise ValueError(f'output shape {shape} does not match the core dimensions '
                             f'{core} (signature={signature!r})')
        for name, size in zip(core, shape):
            if sizes.setdefault(name, size) != size:
                raise ValueError(f'inconsistent size for core dimension {name!r}: '
                                 f'{sizes[name]} vs {size} (signature={signature!r})')
