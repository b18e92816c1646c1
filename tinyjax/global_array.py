"""Arrays laid out over a mesh: one block per device, as a NamedSharding says.

A `GlobalArray` holds each device's block as an ordinary single-device array (in the
mesh's row-major device order) and behaves as the whole array: an op that is not
sharding-aware reads `_buf`, which assembles the global value once on the first device.
`shard_map` and `device_put` create them; `shard_map` takes their blocks as they are,
so a sharded value flows from one sharded step to the next without a gather.
"""
import numpy as np

from tinyjax import backends
from tinyjax.backends.cuda import c_order
from tinyjax.core import trace as core_trace
from tinyjax.core.array import ArrayImpl
from tinyjax.core.ir import ShapedArray
from tinyjax.sharding import NamedSharding, SingleDeviceSharding


class Shard:
    """One device's block: `data` (an array on `device`), its `index` (slices into the
    global array) and `replica_id` (0 for the first device holding that block)."""

    def __init__(self, device, index, replica_id, data):
        self.device, self.index, self.replica_id, self.data = device, index, replica_id, data

    def __repr__(self):
        return (f'Shard(device={self.device!r}, index={self.index}, '
                f'replica_id={self.replica_id}, data={self.data!r})')


class GlobalArray(ArrayImpl):
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
            xp = dev.xp
            with dev.context():
                whole = xp.empty(self.shape, self.dtype)
                for (_, index), blk in self._unique_blocks():
                    whole[index] = dev.accept(blk)
                self._whole = whole
        return self._whole

    def _unique_blocks(self):
        seen = {}
        imap = self._sharding.devices_indices_map(self.shape)
        for dev, blk in zip(self._sharding.mesh.devices.flat, self.blocks):
            key = _index_key(imap[dev])
            if key not in seen:
                seen[key] = ((dev, imap[dev]), blk)
        return seen.values()

    @property
    def addressable_shards(self):
        imap = self._sharding.devices_indices_map(self.shape)
        count, out = {}, []
        for dev, blk in zip(self._sharding.mesh.devices.flat, self.blocks):
            if not backends.is_local(dev):
                continue
            key = _index_key(imap[dev])
            rid = count[key] = count.get(key, -1) + 1
            out.append(Shard(dev, imap[dev], rid, blk))
        return out

    @property
    def global_shards(self):
        return self.addressable_shards

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


def _index_key(index):
    return tuple((s.start, s.stop) for s in index)


def _put(x, device):
    if isinstance(x, ArrayImpl) and x.device is device:
        return x
    x = core_trace.as_array(x)
    return ArrayImpl(device.accept(x), device, x.weak_type)


def scatter(x, sharding):
    """x laid out by `sharding`: each device gets its block (device_put's work). A traced
    value stays as it is: placement is a property of concrete arrays."""
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
        for dev in sharding.mesh.devices.flat:
            key = _index_key(imap[dev])
            if key not in cut:
                cut[key] = ArrayImpl(c_order(src.xp, buf[imap[dev]]), src, x.weak_type)
            blocks.append(_put(cut[key], dev))
    return GlobalArray(blocks, sharding, x.shape, x.weak_type)


def from_blocks(shape, sharding, arrays):
    """jax.make_array_from_single_device_arrays: one array per device of the sharding."""
    imap = sharding.devices_indices_map(tuple(shape))
    devs = list(sharding.mesh.devices.flat)
    by_dev = {}
    for a in arrays:
        a = core_trace.as_array(a)
        by_dev[a.device] = a
    blocks = []
    for dev in devs:
        if dev not in by_dev:
            raise ValueError(f'make_array_from_single_device_arrays: no array was given for '
                             f'{dev!r}; pass one array per device of the sharding, on that device')
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
    blocks = [_put(np.asarray(data_callback(imap[d])), d) for d in sharding.mesh.devices.flat]
    return GlobalArray(blocks, sharding, shape, False)


def visualize(x, use_color=False, scale=1.0, min_width=9, max_width=80):
    """jax.debug.visualize_array_sharding: a text grid of a 1-D or 2-D array's blocks,
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
    text = '\n'.join(out)
    print(text)
    return text
