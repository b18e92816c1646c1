"""Arrays laid out over a mesh: one block per device, as a NamedSharding says.

A `GlobalArray` holds each device's block as an ordinary single-device array (in the
mesh's row-major device order) and behaves as the whole array: an op that is not
sharding-aware reads `_buf`, which assembles the global value once on the first device.
`shard_map` and `device_put` create them; `shard_map` takes their blocks as they are,
so a sharded value flows from one sharded step to the next without a gather.
"""
import math

import numpy as np

from tinyjax import backends, tree_util
from tinyjax.backends.cuda import c_order
from tinyjax.core import trace as core_trace
from tinyjax.core.array import ArrayImpl
from tinyjax.core.ir import ShapedArray
from tinyjax.sharding.specs import (
    NamedSharding, PartitionSpec, SingleDeviceSharding, Sharding, named_sharding)


class Shard:
    """One device's block: `data` (an array on `device`), its `index` (slices into the
    global array) and `replica_id` (0 for the first device holding that block)."""

    def __init__(self, device, index, replica_id, data):
        self.device, self.index, self.replica_id, self.data = device, index, replica_id, data

    def __repr__(self):
        return (f'Shard(device={self.device!r}, index={self.index}, '
                f'replica_id={self.replica_id}, data={self.data!r})')


class GlobalArray(ArrayImpl):
    """`blocks`: one array per device of the mesh that this process holds (its
    addressable devices), in the mesh's row-major order."""
    __slots__ = ('blocks', '_sharding', '_whole')

    def __init__(self, blocks, sharding, shape, weak_type=False):
        self.blocks = list(blocks)
        self._sharding = sharding
        self.device = self.blocks[0].device
        self.aval = ShapedArray(tuple(shape), self.blocks[0].dtype, weak_type)
        self._whole = None

    @property
    def sharding(self):
        return self._sharding

    @property
    def _buf(self):
        # The whole value, assembled on the first device the first time it is needed.
        if self._whole is None:
            dev = self.device
            unique = {}
            imap = self._sharding.devices_indices_map(self.shape)
            for d, blk in zip(local_devices(self._sharding), self.blocks):
                unique.setdefault(_index_key(imap[d]), (imap[d], blk))
            covered = sum(math.prod(len(range(*s.indices(n))) for s, n in zip(i, self.shape))
                          for i, _ in unique.values())
            if covered < math.prod(self.shape):
                raise RuntimeError(
                    'Fetching value for `jax.Array` that spans non-addressable (non process '
                    'local) devices is not possible. You can use '
                    '`jax.experimental.multihost_utils.process_allgather` to print the global '
                    'array or use `.addressable_shards` method of jax.Array to inspect the '
                    'addressable (process local) shards.')
            with dev.context():
                whole = dev.xp.empty(self.shape, self.dtype)
                for index, blk in unique.values():
                    whole[index] = dev.accept(blk)
                self._whole = whole
        return self._whole

    @property
    def addressable_shards(self):
        imap = self._sharding.devices_indices_map(self.shape)
        count, replica = {}, {}
        for dev in self._sharding.mesh.devices.flat:      # replica ids are global
            key = _index_key(imap[dev])
            replica[dev] = count[key] = count.get(key, -1) + 1
        return [Shard(d, imap[d], replica[d], blk)
                for d, blk in zip(local_devices(self._sharding), self.blocks)]

    @property
    def is_fully_replicated(self):
        return self._sharding.is_fully_replicated

    @property
    def is_fully_addressable(self):
        return self._sharding.is_fully_addressable

    def devices(self):
        return set(self._sharding.device_set)

    def delete(self):
        for b in self.blocks:
            b.delete()
        self._whole = None

    def is_deleted(self):
        return any(b.is_deleted() for b in self.blocks)

    def block_until_ready(self):
        for b in self.blocks:
            b.block_until_ready()
        return self


def local_devices(sharding):
    """The sharding's devices this process holds, in the mesh's row-major order."""
    return [d for d in sharding.mesh.devices.flat if backends.is_local(d)]


def _index_key(index):
    return tuple((s.start, s.stop) for s in index)


def _put(x, device):
    if isinstance(x, ArrayImpl) and x.device is device:
        return x
    x = core_trace.as_array(x)
    return ArrayImpl(device.accept(x), device, x.weak_type)


def scatter(x, sharding):
    """x laid out by `sharding`: each device of this process gets its block (device_put's
    work; every process passes the same global value). A traced value stays as it is:
    placement is a property of concrete arrays."""
    if isinstance(x, core_trace.Tracer):
        return x
    x = core_trace.as_array(x)
    if isinstance(sharding, SingleDeviceSharding):
        return _put(x, next(iter(sharding.device_set)))
    if not isinstance(sharding, NamedSharding):
        raise TypeError(f'device_put: expected a Device or a Sharding, got {sharding!r}')
    if isinstance(x, GlobalArray) and x.sharding == sharding:
        return x
    imap = sharding.devices_indices_map(x.shape)
    src, buf = x.device, x._buf
    blocks, cut = [], {}
    with src.context():     # cut where x lives; each block contiguous so programs may reuse it
        for dev in local_devices(sharding):
            key = _index_key(imap[dev])
            if key not in cut:
                cut[key] = ArrayImpl(c_order(src.xp, buf[imap[dev]]), src, x.weak_type)
            blocks.append(_put(cut[key], dev))
    return GlobalArray(blocks, sharding, x.shape, x.weak_type)


def from_blocks(shape, sharding, arrays):
    """jax.make_array_from_single_device_arrays: one array per addressable device."""
    imap = sharding.devices_indices_map(tuple(shape))
    by_dev = {}
    for a in arrays:
        a = core_trace.as_array(a)
        by_dev[a.device] = a
    blocks = []
    for dev in local_devices(sharding):
        if dev not in by_dev:
            raise ValueError(f'make_array_from_single_device_arrays: no array was given for '
                             f'{dev!r}; pass one array per addressable device of the sharding, '
                             'on that device')
        blk = by_dev[dev]
        want = tuple(len(range(*s.indices(n))) for s, n in zip(imap[dev], shape))
        if blk.shape != want:
            raise ValueError(f'make_array_from_single_device_arrays: the array on {dev!r} has '
                             f'shape {blk.shape}, but the sharding {sharding.spec} gives that '
                             f'device a block of shape {want} of the global shape {tuple(shape)}')
        blocks.append(blk)
    return GlobalArray(blocks, sharding, shape, blocks[0].weak_type)


def from_callback(shape, sharding, data_callback):
    """jax.make_array_from_callback: data_callback(index) gives each device's block."""
    imap = sharding.devices_indices_map(tuple(shape))
    if isinstance(sharding, SingleDeviceSharding):
        (dev, index), = imap.items()
        return _put(np.asarray(data_callback(index)), dev)
    blocks = [_put(np.asarray(data_callback(imap[d])), d) for d in local_devices(sharding)]
    return GlobalArray(blocks, sharding, shape, False)


def from_process_local(sharding, local_data, global_shape=None):
    """jax.make_array_from_process_local_data: this process's data is the box of the
    global array its devices hold; by default the processes split dimension 0."""
    local = np.asarray(local_data)
    if global_shape is None:
        global_shape = (local.shape[0] * backends.process_count(),) + local.shape[1:]
    global_shape = tuple(global_shape)
    imap = sharding.devices_indices_map(global_shape)
    mine = local_devices(sharding)
    lo = [min(imap[d][k].indices(n)[0] for d in mine) for k, n in enumerate(global_shape)]
    hi = [max(imap[d][k].indices(n)[1] for d in mine) for k, n in enumerate(global_shape)]
    if tuple(h - l for l, h in zip(lo, hi)) != local.shape:
        raise ValueError(f'make_array_from_process_local_data: this process\'s devices hold '
                         f'the box {[(l, h) for l, h in zip(lo, hi)]} of the global shape '
                         f'{global_shape}, of shape {tuple(h - l for l, h in zip(lo, hi))}, but '
                         f'its local data has shape {local.shape}')
    blocks = []
    for d in mine:
        box = tuple(slice(s.indices(n)[0] - l, s.indices(n)[1] - l)
                    for s, n, l in zip(imap[d], global_shape, lo))
        blocks.append(_put(np.ascontiguousarray(local[box]), d))
    return GlobalArray(blocks, sharding, global_shape, False)


def visualize(x, use_color=False, scale=1.0, min_width=9, max_width=80):
    """jax.debug.visualize_array_sharding: prints a text grid of a 1-D or 2-D array's blocks,
    each labelled with the devices that hold it."""
    shape = x.shape
    if len(shape) not in (1, 2):
        raise ValueError(f'visualize_array_sharding only supports 1-D and 2-D arrays; got '
                         f'shape {shape}')
    sharding = getattr(x, 'sharding', None)
    imap = sharding.devices_indices_map(shape)
    shape2 = shape if len(shape) == 2 else (1,) + shape
    cells = {}
    for dev, index in imap.items():
        index = index if len(shape) == 2 else (slice(None),) + index
        rows, cols = (s.indices(n)[:2] for s, n in zip(index, shape2))
        cells.setdefault((rows, cols), []).append(dev)
    def label(devs):
        return f'{devs[0].platform.upper()} ' + ','.join(str(d.id) for d in sorted(devs, key=lambda d: d.id))
    row_edges = sorted({r for (r, _) in cells})
    col_edges = sorted({c for (_, c) in cells})
    width = max(min_width, min(max_width // max(len(col_edges), 1),
                               max(len(label(v)) for v in cells.values()) + 4))
    line = '┌' + '┬'.join('─' * width for _ in col_edges) + '┐'
    out = [line]
    for i, r in enumerate(row_edges):
        text = '│'.join(label(cells[(r, c)]).center(width) for c in col_edges)
        out.append('│' + text + '│')
        if i < len(row_edges) - 1:
            out.append('├' + '┼'.join('─' * width for _ in col_edges) + '┤')
    out.append('└' + '┴'.join('─' * width for _ in col_edges) + '┘')
    print('\n'.join(out))        # and returns None, as JAX's (a notebook shows no repr)


def reshard(x, out_shardings):
    """x laid out by out_shardings (a Sharding, or a PartitionSpec on the current mesh;
    or a pytree prefix of them)."""
    def one(s):
        return named_sharding(s, 'reshard')
    if isinstance(out_shardings, (Sharding, PartitionSpec)):
        s = one(out_shardings)
        return tree_util.tree_map(lambda v: scatter(v, s), x)
    return tree_util.tree_map(lambda v, s: scatter(v, one(s)), x, out_shardings,
                              is_leaf=lambda v: isinstance(v, PartitionSpec))

