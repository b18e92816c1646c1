"""jax.experimental.multihost_utils: values across the processes of a multi-process job.

`process_allgather` gives every process the whole of a global array (or the stack of
every process's host values); `sync_global_devices` is a barrier. Both go through the
coordinator that distributed.initialize started (one key per process and call).
"""
import itertools

import numpy as np

from tinyjax import backends, tree_util
from tinyjax.backends.collectives import pack, unpack
from tinyjax.core import trace as core_trace
from tinyjax.global_array import GlobalArray, local_devices

_calls = itertools.count()


def _exchange(tag, arrays):
    """Every process's list of arrays, in process order."""
    topo = backends.topology()
    if topo is None:
        return [arrays]
    key = f'allgather/{tag}/{{}}'
    topo.client.set(key.format(topo.process_index), pack(arrays))
    out = [unpack(topo.client.get(key.format(p))) for p in range(topo.process_count)]
    topo.client.barrier(f'allgather/{tag}', topo.process_index, topo.process_count)
    topo.client.delete(key.format(topo.process_index))
    return out


def _whole(x, tag):
    if x.is_fully_addressable or x.is_fully_replicated:
        return np.asarray(x)
    imap = x.sharding.devices_indices_map(x.shape)
    mine = local_devices(x.sharding)
    starts = [np.asarray([[s.indices(n)[0] for s, n in zip(imap[d], x.shape)] for d in mine])]
    parts = _exchange(tag, starts + [np.asarray(b) for b in x.blocks])
    out = np.empty(x.shape, x.dtype)
    for proc in parts:
        for start, blk in zip(proc[0], proc[1:]):
            out[tuple(slice(int(a), int(a) + n) for a, n in zip(start, blk.shape))] = blk
    return out


def process_allgather(in_tree, tiled=False):
    """Global arrays: their whole value on every process. Host values: every process's,
    stacked on a new leading axis (concatenated along axis 0 when tiled)."""
    def one(x):
        tag = next(_calls)
        if isinstance(x, GlobalArray):
            return _whole(x, tag)
        local = np.asarray(core_trace.as_array(x))
        parts = [p[0] for p in _exchange(tag, [local])]
        return np.concatenate(parts) if tiled else np.stack(parts)
    return tree_util.tree_map(one, in_tree)


def sync_global_devices(name):
    """Wait until every process reaches this point."""
    topo = backends.topology()
    if topo is not None:
        topo.client.barrier(f'sync/{name}', topo.process_index, topo.process_count)
