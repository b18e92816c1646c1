"""pmap: one shard of the mapped axis per device, collectives across the shards.

The function is traced once for one shard (abstract values, the axis name bound), and
the graph runs on every device. Ordinary equations run per device on that device's
buffers; a collective over pmap's axis runs its `spmd` rule (ops/collectives.py), which
combines the shards across devices. Results are ShardedArrays: one buffer per device,
usable as an ordinary array, and fed to the next pmap without a gather.

Under another transformation (grad, vmap, a trace), pmap has vmap's semantics with the
same axis name, so derivatives of pmapped code are derivatives of the batched program.
"""
import functools

import numpy as np

from tinyjax import backends, tree_util
from tinyjax.core import trace as core_trace
from tinyjax.core.array import ArrayImpl
from tinyjax.core.ir import Literal, ShapedArray
from tinyjax.ops import common
from tinyjax.transforms import batching
from tinyjax.transforms.tracing import flatten_fun


class ShardedArray(ArrayImpl):
    """An array whose leading axis is split over devices, one shard per device."""
    __slots__ = ('shards', '_stacked')

    def __init__(self, shards, weak_type=False):
        self.shards = list(shards)
        first = self.shards[0]
        self.device = first.device
        self.aval = ShapedArray((len(self.shards),) + first.shape, first.dtype, weak_type)
        self._stacked = None

    @property
    def _buf(self):
        # Gathered onto the first shard's device the first time it is used as a whole.
        if self._stacked is None:
            dev = self.device
            self._stacked = dev.xp.stack([dev.accept(s) for s in self.shards])
        return self._stacked

    def devices(self):
        return {s.device for s in self.shards}

    @property
    def addressable_shards(self):
        return list(self.shards)

    def block_until_ready(self):
        for s in self.shards:
            s.block_until_ready()
        return self


def _put(x, device):
    if isinstance(x, ArrayImpl) and x.device is device:
        return x
    x = core_trace.as_array(x)
    return ArrayImpl(device.accept(x), device, x.weak_type)


def _shard(x, axis, n, devs):
    """Per-device pieces of x: split along `axis`, or replicated when axis is None."""
    if axis is None:
        return [_put(x, d) for d in devs]
    if isinstance(x, ShardedArray) and axis == 0 and [s.device for s in x.shards] == list(devs):
        return list(x.shards)
    x = core_trace.as_array(x)
    from tinyjax import lax
    return [_put(lax.squeeze(lax.slice_in_dim(x, i, i + 1, 1, axis), (axis,)), devs[i])
            for i in range(n)]


def spmd_eval(graph, shard_args, axis_name, devs):
    """Run graph on every device; collectives over axis_name combine across devices."""
    n = len(devs)
    env = {}
    const_cache = {}

    def read(a):
        if isinstance(a, Literal):
            return [a.val] * n
        return env[a]

    for v, c in zip(graph.constvars, graph.consts):
        env[v] = const_cache.setdefault(id(c), [_put(c, d) for d in devs])
    for v, shards in zip(graph.invars, shard_args):
        env[v] = shards
    for e in graph.eqns:
        ins = [read(a) for a in e.inputs]
        spmd = getattr(e.prim, 'spmd', None)
        names = e.params.get('axis_name')
        names = names if isinstance(names, tuple) else (names,)
        if spmd is not None and axis_name in names:
            if len(names) > 1:
                raise NotImplementedError(f'{e.prim.name} over several axis names {names} '
                                          'inside pmap; nest the collectives instead')
            params = dict(e.params)
            params['axis_name'] = axis_name
            outs = spmd(ins, devs, **params)
        else:
            per = [e.prim.bind(*[x[i] for x in ins], **e.params) for i in range(n)]
            outs = [list(o) for o in zip(*per)] if e.prim.multiple_results else [per]
        for v, o in zip(e.outputs, outs):
            env[v] = o
    return [read(a) for a in graph.outvars]


def pmap(fun, axis_name=None, *, in_axes=0, out_axes=0, static_broadcasted_argnums=(),
         devices=None, backend=None, axis_size=None, donate_argnums=(), global_arg_shapes=None):
    static = (static_broadcasted_argnums,) if isinstance(static_broadcasted_argnums, int) \
        else tuple(static_broadcasted_argnums)

    @functools.wraps(fun)
    def pmapped(*args, **kwargs):
        dyn_idx = [i for i in range(len(args)) if i not in static]
        dyn = tuple(args[i] for i in dyn_idx)
        axes_spec = in_axes
        if isinstance(in_axes, (tuple, list)) and static:
            axes_spec = tuple(a for i, a in enumerate(in_axes) if i not in static)

        def f(*d, **kw):
            full = list(args)
            for i, v in zip(dyn_idx, d):
                full[i] = v
            return fun(*full, **kw)
        f.__name__ = getattr(fun, '__name__', 'fun')
        leaves = tree_util.tree_leaves((dyn, kwargs))
        if any(isinstance(x, core_trace.Tracer) for x in leaves) or core_trace.current_builder():
            return batching.vmap(f, in_axes=axes_spec, out_axes=out_axes,
                                 axis_name=axis_name, axis_size=axis_size)(*dyn, **kwargs)
        leaves, in_tree = tree_util.tree_flatten((dyn, kwargs))
        n_pos = len(tree_util.tree_leaves(dyn))
        axes = batching._broadcast_prefix(axes_spec, dyn, 'in_axes') + [0] * (len(leaves) - n_pos)
        avals = [common.aval_of(x) for x in leaves]
        sizes = {a.shape[ax % a.ndim] for a, ax in zip(avals, axes) if ax is not None}
        if len(sizes) > 1:
            shown = ', '.join(f'{a.str_short()} on axis {ax}' for a, ax in zip(avals, axes) if ax is not None)
            raise ValueError(f'pmap got inconsistent sizes for array axes to be mapped: {shown}')
        n = sizes.pop() if sizes else axis_size
        if n is None:
            raise ValueError('pmap needs at least one mapped input (an in_axes entry that is '
                             'not None), or axis_size')
        devs = list(devices) if devices is not None else backends.devices(backend)
        if n > len(devs):
            raise ValueError(f'compiling computation that requires {n} logical devices, but '
                             f'only {len(devs)} XLA devices are available (num_replicas={n}). '
                             'Map a smaller axis, or add devices (config jax_num_cpu_devices, '
                             'TINYJAX_NUM_GPU_DEVICES).')
        devs = devs[:n]
        norm = [None if ax is None else ax % a.ndim for a, ax in zip(avals, axes)]
        ex_avals = [a if d is None else a.update(shape=a.shape[:d] + a.shape[d + 1:])
                    for a, d in zip(avals, norm)]
        store = []
        flat = flatten_fun(f, in_tree, store)
        batching._axis_names.append((axis_name, n))
        try:
            graph, _ = core_trace.make_graph(flat, ex_avals, name=f.__name__)
            shards = [_shard(x, d, n, devs) for x, d in zip(leaves, norm)]
            outs = spmd_eval(graph, shards, axis_name, devs)
        finally:
            batching._axis_names.pop()
        out_tree = store[0]
        oax = batching._broadcast_prefix(out_axes, tree_util.tree_unflatten(out_tree, outs), 'out_axes')
        results = []
        for shards, a, ax in zip(outs, graph.out_avals, oax):
            shards = [core_trace.as_array(s) for s in shards]
            if ax is None:
                results.append(shards[0])
            elif ax == 0:
                results.append(ShardedArray(shards, a.weak_type))
            else:
                from tinyjax import numpy as jnp
                results.append(jnp.stack([_put(s, devs[0]) for s in shards], axis=ax))
        return tree_util.tree_unflatten(out_tree, results)
    return pmapped
