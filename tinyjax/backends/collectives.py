"""How a collective over pmap's devices moves data: NCCL, device copies, or the host.

pmap runs a collective as `for_devices(devs).run(prim, ins, params)`: `ins` holds, per
operand, one array per *local* member (this process's devices, in `devs` order), and the
result has the same layout. Three ways to do it:

- `NcclCollectives`: GPUs, one NCCL rank per device, calls grouped (groupStart/groupEnd)
  and queued on each device's own stream. One process driving its GPUs uses
  `NcclCommunicator.initAll`; several processes build one communicator from a unique id
  passed through the coordinator.
- `DeviceCopyCollectives`: every member in this process: the primitive's `spmd` rule
  (ops/collectives.py) gathers shards by device copies and reduces with ordinary ops.
  The fallback when NCCL is missing, when logical devices share a GPU (two NCCL ranks
  may not share one, unless NCCL >= 2.30 and NCCL_MULTI_RANK_GPU_ENABLE is set), and the
  whole story on the CPU.
- `ProcessCollectives`: members in several processes without NCCL (the CPU): each
  process posts its members' shards to the coordinator and reads everyone else's, then
  runs the same `spmd` rule on the host. Slow, but it makes multi-process pmap run and
  testable anywhere.

CuPy's NCCL bindings are imported only when GPUs take part (the import raises on
machines without libnccl).
"""
import hashlib
import io
import json
import os
import struct
import warnings

import numpy as np

from tinyjax import backends, dtypes
from tinyjax.backends.cuda import c_order
from tinyjax.core.array import ArrayImpl

_chosen = {}


def for_devices(devs):
    """The collective implementation for this ordered device set (chosen once, cached)."""
    key = tuple(devs)
    impl = _chosen.get(key)
    if impl is None:
        impl = _chosen[key] = _choose(list(devs))
    return impl


def _choose(devs):
    local = [d for d in devs if backends.is_local(d)]
    gpus = all(d.platform == 'gpu' for d in devs)
    if len(local) < len(devs):
        fallback = ProcessCollectives(devs)
        if gpus and nccl_usable(local):
            try:
                return NcclCollectives.across_processes(devs, fallback)
            except Exception as e:     # noqa: BLE001 - any NCCL failure: use the host path
                warnings.warn(f'tinyjax: NCCL setup failed ({e}); collectives go through the '
                              'coordinator instead', RuntimeWarning)
        return fallback
    fallback = DeviceCopyCollectives(devs)
    if gpus and nccl_usable(local):
        try:
            return NcclCollectives.one_process(devs, fallback)
        except Exception as e:     # noqa: BLE001
            warnings.warn(f'tinyjax: NCCL setup failed ({e}); collectives use device copies',
                          RuntimeWarning)
    return fallback


def _to(x, device):
    if x.device is device:
        return x
    return ArrayImpl(device.accept(x), device, x.weak_type)


class DeviceCopyCollectives:
    kind = 'device copies'

    def __init__(self, devs):
        self.devs = devs

    def run(self, prim, ins, params):
        return prim.spmd(ins, self.devs, **params)


# --- between processes through the coordinator ------------------------------------------
def pack(arrays):
    """Arrays to bytes: a JSON list of (dtype name, shape), then the raw data."""
    arrays = [np.asarray(a) for a in arrays]     # tobytes() writes C order
    head = json.dumps([[a.dtype.name, list(a.shape)] for a in arrays]).encode()
    out = io.BytesIO()
    out.write(struct.pack('!I', len(head)))
    out.write(head)
    for a in arrays:
        out.write(a.tobytes())
    return out.getvalue()


def unpack(data):
    (hl,) = struct.unpack_from('!I', data)
    head = json.loads(data[4:4 + hl])
    pos, out = 4 + hl, []
    for name, shape in head:
        dt = getattr(dtypes, name, None) if name == 'bfloat16' else np.dtype(name)
        n = int(np.prod(shape)) * dt.itemsize
        out.append(np.frombuffer(data, dt, int(np.prod(shape)), pos).reshape(tuple(shape)).copy())
        pos += n
    return out


class ProcessCollectives:
    kind = 'coordinator (host)'

    def __init__(self, devs):
        t = backends.topology()
        if t is None or t.client is None:
            raise RuntimeError('pmap over devices of several processes needs '
                               'tinyjax.distributed.initialize() first')
        self.devs, self.client, self.me = devs, t.client, t.process_index
        self.local_pos = [i for i, d in enumerate(devs) if backends.is_local(d)]
        self.procs = sorted({d.process_index for d in devs})
        self.here = devs[self.local_pos[0]]
        self.tag = hashlib.sha1(repr([(d.process_index, d.id) for d in devs]).encode()).hexdigest()[:12]
        self.seq = 0

    def run(self, prim, ins, params):
        n = len(self.devs)
        full = self._exchange(ins) if ins else []
        outs = prim.spmd(full, [self.here] * n, **params)
        return [[_to(o[i], self.devs[i]) for i in self.local_pos] for o in outs]

    def _exchange(self, ins):
        """Every member's shard of every operand, on this process's first device."""
        seq, key = self.seq, f'coll/{self.tag}/{{}}/{{}}'
        self.seq += 1
        mine = pack([np.asarray(x) for shards in ins for x in shards])
        self.client.set(key.format(seq, self.me), mine)
        full = [[None] * len(self.devs) for _ in ins]
        for p in self.procs:
            arrays = unpack(mine if p == self.me else self.client.get(key.format(seq, p)))
            pos = [i for i, d in enumerate(self.devs) if d.process_index == p]
            for j in range(len(ins)):
                for m, i in enumerate(pos):
                    full[j][i] = arrays[j * len(pos) + m]
        # Everyone has posted round seq-1, so all have read round seq-2: drop ours.
        if seq >= 2:
            self.client.delete(key.format(seq - 2, self.me))
        here = self.here
        return [[ArrayImpl(here.put(a), here, ins[j][0].weak_type) for a in row]
                for j, row in enumerate(full)]


# --- NCCL -----------------------------------------------------------------------------------
def nccl_module():
    """cupy.cuda.nccl when libnccl loads, else None (imported only when GPUs ask)."""
    try:
        from cupy.cuda import nccl  # lazy: NCCL bindings raise without libnccl
    except Exception:     # noqa: BLE001 - missing library or CuPy
        return None
    return nccl if getattr(nccl, 'available', False) else None


def nccl_version():
    nccl = nccl_module()
    return nccl.get_version() if nccl is not None else None


def nccl_usable(local):
    """NCCL can serve these local GPUs: it loads, is not switched off, and no two ranks
    share a GPU unless this NCCL allows it (>= 2.30 with NCCL_MULTI_RANK_GPU_ENABLE)."""
    if os.environ.get('TINYJAX_NCCL', '1') == '0' or nccl_module() is None:
        return False
    phys = [d.physical_id for d in local]
    if len(set(phys)) == len(phys):
        return True
    return (os.environ.get('NCCL_MULTI_RANK_GPU_ENABLE', '0') not in ('', '0')
            and nccl_version() >= 23000)


def _nccl_dtype(nccl, dtype):
    table = {np.dtype(np.float16): 'NCCL_FLOAT16', np.dtype(np.float32): 'NCCL_FLOAT32',
             np.dtype(np.float64): 'NCCL_FLOAT64', np.dtype(np.int8): 'NCCL_INT8',
             np.dtype(np.uint8): 'NCCL_UINT8', np.dtype(np.int32): 'NCCL_INT32',
             np.dtype(np.uint32): 'NCCL_UINT32', np.dtype(np.int64): 'NCCL_INT64',
             np.dtype(np.uint64): 'NCCL_UINT64', dtypes.bfloat16: 'NCCL_BFLOAT16'}
    name = table.get(np.dtype(dtype))
    return getattr(nccl, name, None) if name else None


def _ptr(buf):
    """Device address of a buffer (CuPy); NumPy's address lets tests drive this code on
    the CPU with a stand-in NCCL."""
    return buf.data.ptr if hasattr(buf.data, 'ptr') else buf.ctypes.data


def encode_unique_id(uid):
    """NCCL's unique id as JSON bytes for the coordinator. CuPy >= 14 gives (and its
    NcclCommunicator takes) `bytes`; older CuPy a tuple of signed chars. The form
    travels with the id, so each reader rebuilds what its own CuPy's constructor wants
    (every process runs the same install)."""
    return json.dumps({'bytes': isinstance(uid, (bytes, bytearray)), 'id': list(uid)}).encode()


def decode_unique_id(data):
    d = json.loads(data)
    return bytes(d['id']) if d['bytes'] else tuple(d['id'])


def share_unique_id(t, devs, make_id):
    """The unique id of a communicator over `devs`: made by the first process holding one
    of them and passed to the others holding one, point to point over MPI when MPI
    launched the job, else through the coordinator's store."""
    key = hashlib.sha1(repr([(d.process_index, d.id) for d in devs]).encode()).hexdigest()
    first = min(d.process_index for d in devs)
    if t.mpi is not None:
        tag = int(key[:4], 16) % 32000      # MPI guarantees tags up to 32767
        if t.process_index == first:
            data = encode_unique_id(make_id())
            for p in sorted({d.process_index for d in devs} - {first}):
                t.mpi.send(data, dest=p, tag=tag)
        else:
            data = t.mpi.recv(source=first, tag=tag)
        return decode_unique_id(data)
    if t.process_index == first:
        t.client.set('nccl/' + key, encode_unique_id(make_id()))
    return decode_unique_id(t.client.get('nccl/' + key))


class NcclCollectives:
    kind = 'NCCL'

    def __init__(self, devs, comms, fallback):
        self.nccl = nccl_module()
        self.size = len(devs)
        self.local_pos = [i for i, d in enumerate(devs) if backends.is_local(d)]
        self.devs = [devs[i] for i in self.local_pos]     # local members, rank = position
        self.comms, self.fallback = comms, fallback

    @classmethod
    def one_process(cls, devs, fallback):
        nccl = nccl_module()
        return cls(devs, nccl.NcclCommunicator.initAll([d.physical_id for d in devs]), fallback)

    @classmethod
    def across_processes(cls, devs, fallback):
        """One communicator over every member; the first process makes the unique id and
        the others read it from the coordinator."""
        nccl = nccl_module()
        uid = share_unique_id(backends.topology(), devs, nccl.get_unique_id)
        comms = []
        nccl.groupStart()      # several local ranks join in one group, or init deadlocks
        try:
            for rank, d in enumerate(devs):
                if backends.is_local(d):
                    with d.context():
                        comms.append(nccl.NcclCommunicator(len(devs), uid, rank))
        finally:
            nccl.groupEnd()
        return cls(devs, comms, fallback)

    def run(self, prim, ins, params):
        fn = getattr(self, '_' + prim.name, None)
        if fn is None or len(ins) != 1 or any(
                _nccl_dtype(self.nccl, x.dtype) is None for x in ins[0]):
            return self.fallback.run(prim, ins, params)
        params = {k: v for k, v in params.items() if k != 'axis_name'}
        return [fn(ins[0], **params)]

    # Each call: contiguous send buffers and fresh receive buffers on every device, one
    # grouped NCCL call per device on its stream, then any reshaping on that stream.
    def _prepare(self, shards, recv_shape=None, moved_axis=None, zero=False):
        sends, recvs = [], []
        for d, x in zip(self.devs, shards):
            with d.context():
                xp = d.xp
                b = x._buf if moved_axis is None else xp.moveaxis(x._buf, moved_axis, 0)
                s = c_order(xp, b)
                shape = s.shape if recv_shape is None else recv_shape(s.shape)
                recvs.append((xp.zeros if zero else xp.empty)(shape, s.dtype))
                sends.append(s)
        return sends, recvs

    def _grouped(self, call):
        self.nccl.groupStart()
        try:
            for i, (d, c) in enumerate(zip(self.devs, self.comms)):
                with d.context():
                    call(i, d, c)
        finally:
            self.nccl.groupEnd()

    def _wrap(self, bufs, shards, post=None):
        out = []
        for d, b, x in zip(self.devs, bufs, shards):
            if post is not None:
                with d.context():
                    b = c_order(d.xp, post(d.xp, b))
            out.append(ArrayImpl(b, d, x.weak_type))
        return out

    def _all_reduce(self, shards, op):
        sends, recvs = self._prepare(shards)
        dt = _nccl_dtype(self.nccl, sends[0].dtype)
        self._grouped(lambda i, d, c: c.allReduce(_ptr(sends[i]), _ptr(recvs[i]),
                                                  sends[i].size, dt, op, d.stream.ptr))
        return self._wrap(recvs, shards)

    def _psum(self, shards):
        return self._all_reduce(shards, self.nccl.NCCL_SUM)

    def _pmax(self, shards):
        return self._all_reduce(shards, self.nccl.NCCL_MAX)

    def _pmin(self, shards):
        return self._all_reduce(shards, self.nccl.NCCL_MIN)

    def _all_gather(self, shards, axis, tiled):
        n = self.size
        sends, recvs = self._prepare(shards, lambda s: (n,) + s)
        dt = _nccl_dtype(self.nccl, sends[0].dtype)
        self._grouped(lambda i, d, c: c.allGather(_ptr(sends[i]), _ptr(recvs[i]),
                                                  sends[i].size, dt, d.stream.ptr))
        shape = list(shards[0].shape)
        if tiled:
            shape[axis] *= n

        def post(xp, r):     # (n, *shape) member-major -> stacked or concatenated at `axis`
            r = xp.moveaxis(r, 0, axis)
            return c_order(xp, r).reshape(shape) if tiled else r
        return self._wrap(recvs, shards, post)

    def _psum_scatter(self, shards, scatter_dimension, tiled):
        n, d0 = self.size, scatter_dimension
        sends, recvs = self._prepare(shards, lambda s: (s[0] // n,) + s[1:], moved_axis=d0)
        dt = _nccl_dtype(self.nccl, sends[0].dtype)
        self._grouped(lambda i, d, c: c.reduceScatter(
            _ptr(sends[i]), _ptr(recvs[i]), recvs[i].size, dt, self.nccl.NCCL_SUM,
            d.stream.ptr))
        post = (lambda xp, r: xp.moveaxis(r, 0, d0)) if tiled else (lambda xp, r: r[0])
        return self._wrap(recvs, shards, post)

    def _ppermute(self, shards, perm):
        src_of = {dst: src for src, dst in perm}
        sends, recvs = self._prepare(shards, zero=True)    # members nobody sends to get 0
        dt = _nccl_dtype(self.nccl, sends[0].dtype)

        def call(i, d, c):
            rank = self.local_pos[i]
            for src, dst in perm:
                if src == rank:
                    c.send(_ptr(sends[i]), sends[i].size, dt, dst, d.stream.ptr)
            if rank in src_of:
                c.recv(_ptr(recvs[i]), recvs[i].size, dt, src_of[rank], d.stream.ptr)
        self._grouped(call)
        return self._wrap(recvs, shards)

    def _all_to_all(self, shards, split_axis, concat_axis, tiled):
        n = self.size
        sends, recvs = self._prepare(shards, moved_axis=split_axis)
        dt = _nccl_dtype(self.nccl, sends[0].dtype)
        chunk = sends[0].size // n
        step = chunk * sends[0].dtype.itemsize

        def call(i, d, c):     # chunk j goes to member j; member j's chunk lands in slot j
            for j in range(n):
                c.send(_ptr(sends[i]) + j * step, chunk, dt, j, d.stream.ptr)
                c.recv(_ptr(recvs[i]) + j * step, chunk, dt, j, d.stream.ptr)
        self._grouped(call)
        rows = sends[0].shape[0] // n

        def post(xp, r):
            parts = [xp.moveaxis(r[j * rows:(j + 1) * rows], 0, split_axis) for j in range(n)]
            if tiled:
                return xp.concatenate(parts, concat_axis)
            return xp.stack([xp.squeeze(p, split_axis) for p in parts], concat_axis)
        return self._wrap(recvs, shards, post)
