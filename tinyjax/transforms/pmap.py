"""pmap: one shard of the mapped axis per device, collectives across the shards.

A call is cached by signature, as jit's is: (axis name, argument tree, shapes, dtypes,
weak types, mapped axes, static_broadcasted_argnums values, devices), in the function's
table that jit and shard_map share. A miss traces the function once
for one shard (abstract values, the axis name bound to the axis size) and builds an
`SpmdProgram` (spmd.py): the graph cut at its collectives into segments, each compiled
by jit's compiler into one Program per device. A hit only shards the arguments and runs
the programs. Results are ShardedArrays: one buffer per device, usable as an ordinary
array, and fed to the next pmap without a gather.

Under another transformation (grad, vmap, a trace), pmap has vmap's semantics with the
same axis name, so derivatives of pmapped code are derivatives of the batched program.

Several processes (tinyjax.distributed.initialize): the mapped axis spans every
process's devices; each process passes its local shards (leading axis = its local device
count), collectives combine all of them, and a mapped result is the global array (a
`GlobalArray` over a 1-D mesh of all the devices, this process holding its own blocks),
which a later pmap over the same devices takes back as this process's shards.
"""
import functools

import numpy as np

from tinyjax import backends, lax, tree_util
from tinyjax.config import trace_context
from tinyjax.backends.cuda import c_order
from tinyjax.core import trace as core_trace
from tinyjax.core.array import ArrayImpl
from tinyjax.core.ir import ShapedArray
from tinyjax.ops import common, structural
from tinyjax.sharding.arrays import GlobalArray
from tinyjax.sharding.specs import Mesh, NamedSharding, PartitionSpec
from tinyjax.interpreters.batching import axis_frame_pushed
from tinyjax.transforms import batching
from tinyjax.transforms.jit import _check_hashable, _shared_caches
from tinyjax.transforms.spmd import DeviceGrid, SpmdProgram, spmd_eval, trace_for_grid  # noqa: F401 (spmd_eval re-exported)
from tinyjax.transforms.tracing import flatten_fun, with_positions


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
            bufs = [dev.accept(s) for s in self.shards]
            with dev.context():
                self._stacked = dev.xp.stack(bufs)
        return self._stacked

    def devices(self):
        return {s.device for s in self.shards}

    @property
    def addressable_shards(self):
        return list(self.shards)

    def delete(self):
        for s in self.shards:
            s.delete()
        self._stacked = None

    def is_deleted(self):
        return any(s.is_deleted() for s in self.shards)

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
    buf, src = x._buf, x.device
    pieces = []
    with src.context():     # slice where x lives, contiguous so programs may reuse it
        for i in range(n):
            piece = c_order(src.xp, src.xp.take(buf, i, axis=axis))
            pieces.append(ArrayImpl(piece, src, x.weak_type))
    return [_put(p, d) for p, d in zip(pieces, devs)]


class SpanningArray(GlobalArray):
    """A pmap result over several processes' devices: the global array (leading axis: one
    entry per device of every process), holding this process's shards."""
    __slots__ = ('shards',)

    def __init__(self, shards, devs, axis, name, weak_type):
        self.shards = list(shards)
        mesh = Mesh(np.asarray(devs, dtype=object), (name,))
        spec = PartitionSpec(*[None] * axis, name)
        blocks = [structural.expand_dims(x, (axis,)) for x in self.shards]
        shape = list(common.aval_of(self.shards[0]).shape)
        shape.insert(axis, len(devs))
        super().__init__(blocks, NamedSharding(mesh, spec), tuple(shape), weak_type)


def _local_view(x):
    """What this process passes for a SpanningArray: its own shards."""
    return ShardedArray(x.shards, x.weak_type) if isinstance(x, SpanningArray) else x


class _Entry:
    def __init__(self, program, out_tree, out_avals):
        self.program, self.out_tree, self.out_avals = program, out_tree, out_avals


class PmapFunction:
    def __init__(self, fun, axis_name, in_axes, out_axes, static, devices, backend,
                 axis_size, donate):
        functools.update_wrapper(self, fun)
        self.fun, self.axis_name, self.in_axes, self.out_axes = fun, axis_name, in_axes, out_axes
        self.static, self.donate = static, donate
        self.devices, self.backend, self.axis_size = devices, backend, axis_size
        # The compiled programs belong to the function, in the table jit and shard_map
        # keep theirs in (JAX runs pmap as a jit of a shard_map): `pmap(f)(x)` inline in
        # a loop traces once.
        self._cache = _shared_caches(fun, 'spmd', False)[0]
        self.trace_count = 0       # how many times this pmap traced (tests read it)

    def _cache_size(self):
        return len(self._cache)

    def clear_cache(self):
        self._cache.clear()

    def __call__(self, *args, **kwargs):
        static = self.static
        dyn_idx = [i for i in range(len(args)) if i not in static]
        dyn = tuple(args[i] for i in dyn_idx)
        axes_spec = self.in_axes
        if isinstance(axes_spec, (tuple, list)) and static:
            axes_spec = tuple(a for i, a in enumerate(axes_spec) if i not in static)
        f = self._with_statics(args, dyn_idx)
        dyn, kwargs = tree_util.tree_map(_local_view, (dyn, kwargs))
        leaves = tree_util.tree_leaves((dyn, kwargs))
        if any(isinstance(x, core_trace.Tracer) for x in leaves) or core_trace.current_builder():
            return batching.vmap(f, in_axes=axes_spec, out_axes=self.out_axes,
                                 axis_name=self.axis_name, axis_size=self.axis_size)(*dyn, **kwargs)

        leaves, in_tree = tree_util.tree_flatten((dyn, kwargs))
        n_pos = len(tree_util.tree_leaves(dyn))
        axes = batching._broadcast_prefix(axes_spec, dyn, 'in_axes') + [0] * (len(leaves) - n_pos)
        avals = [common.aval_of(x) for x in leaves]
        for x, a in zip(leaves, avals):
            if isinstance(x, ArrayImpl) and x.is_deleted():
                raise RuntimeError(f'Array has been deleted with shape={a.str_short()}: it '
                                   'was donated to an earlier call.')
        norm = [None if ax is None else ax % a.ndim for a, ax in zip(avals, axes)]
        n = self._mapped_size(avals, axes, norm)
        devs, local = self._devices(n)
        statics = tuple((i, _check_hashable(args[i])) for i in sorted(static) if i < len(args))
        key = ('pmap', self.axis_name, in_tree, tuple(avals), tuple(norm), statics, len(args),
               trace_context(), tuple(devs))
        donated = self._donated_leaves(dyn_idx, dyn, norm)
        entry = self._cache.get((key, donated))
        if entry is None:
            entry = self._cache[(key, donated)] = self._compile(f, in_tree, avals, norm, devs,
                                                                local, donated)
        shards = [_shard(x, d, len(local), local) for x, d in zip(leaves, norm)]
        outs = entry.program(shards)
        for i in donated:
            if isinstance(leaves[i], ArrayImpl):
                leaves[i].delete()      # a program may have written over its memory
        return self._assemble(entry, outs, devs, local)

    def _with_statics(self, args, dyn_idx):
        return with_positions(self.fun, args, dyn_idx)

    def _mapped_size(self, avals, axes, norm):
        sizes = {a.shape[d] for a, d in zip(avals, norm) if d is not None}
        if len(sizes) > 1:
            shown = ', '.join(f'{a.str_short()} on axis {ax}'
                              for a, ax in zip(avals, axes) if ax is not None)
            raise ValueError(f'pmap got inconsistent sizes for array axes to be mapped: {shown}')
        n = sizes.pop() if sizes else self.axis_size
        if n is None:
            raise ValueError('pmap needs at least one mapped input (an in_axes entry that is '
                             'not None), or axis_size')
        return n

    def _devices(self, n):
        """(members of the mapped axis, the ones this process runs)."""
        devs = list(self.devices) if self.devices is not None else backends.devices(self.backend)
        local = [d for d in devs if backends.is_local(d)]
        if len(local) < len(devs):
            # Several processes: each passes exactly its local shards.
            if n != len(local):
                raise ValueError(f'pmap over {len(devs)} devices in {backends.process_count()} '
                                 f'processes: each process passes its local shards, so the '
                                 f'mapped axis must have size {len(local)} here, got {n}')
            return devs, local
        if n > len(devs):
            raise ValueError(f'compiling computation that requires {n} logical devices, but '
                             f'only {len(devs)} XLA devices are available (num_replicas={n}). '
                             'Map a smaller axis, or add devices (config jax_num_cpu_devices, '
                             'TINYJAX_NUM_GPU_DEVICES).')
        return devs[:n], devs[:n]

    def _donated_leaves(self, dyn_idx, dyn, norm):
        # Broadcast (in_axes=None) arguments are never donated: every device reads the
        # same buffer, so no device may write over it.
        if not self.donate:
            return ()
        out, start = [], 0
        for pos, a in zip(dyn_idx, dyn):
            cnt = len(tree_util.tree_leaves(a))
            if pos in self.donate:
                out.extend(k for k in range(start, start + cnt) if norm[k] is not None)
            start += cnt
        return tuple(out)

    def _compile(self, f, in_tree, avals, norm, devs, local, donated):
        self.trace_count += 1
        shard_avals = [a if d is None else a.update(shape=a.shape[:d] + a.shape[d + 1:])
                       for a, d in zip(avals, norm)]
        store = []
        flat = flatten_fun(f, in_tree, store)
        grid = DeviceGrid.one_axis(self.axis_name, devs)
        graph = trace_for_grid(flat, shard_avals, grid, f.__name__)
        with axis_frame_pushed(self.axis_name, len(devs)):
            program = SpmdProgram(graph, grid, local, donated)
        return _Entry(program, store[0], graph.out_avals)

    def _assemble(self, entry, outs, devs, local):
        oax = batching._broadcast_prefix(self.out_axes,
                                         tree_util.tree_unflatten(entry.out_tree, outs), 'out_axes')
        results = []
        for shards, a, ax in zip(outs, entry.out_avals, oax):
            if ax is None:
                results.append(shards[0])
            elif len(local) < len(devs):
                results.append(SpanningArray(shards, devs, ax, self.axis_name or 'pmap',
                                             a.weak_type))
            elif ax == 0:
                results.append(ShardedArray(shards, a.weak_type))
            else:
                results.append(lax.concatenate(
                    [lax.expand_dims(_put(s, local[0]), (ax,)) for s in shards], ax))
        return tree_util.tree_unflatten(entry.out_tree, results)


def pmap(fun, axis_name=None, *, in_axes=0, out_axes=0, static_broadcasted_argnums=(),
         devices=None, backend=None, axis_size=None, donate_argnums=(), global_arg_shapes=None):
    if not callable(fun):
        raise TypeError(f'Expected a callable value, got {fun!r}')
    as_tuple = lambda v: (v,) if isinstance(v, int) else tuple(v or ())
    return PmapFunction(fun, axis_name, in_axes, out_axes, as_tuple(static_broadcasted_argnums),
                        devices, backend, axis_size, as_tuple(donate_argnums))
