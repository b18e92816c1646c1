"""NcclCollectives' logic (buffer layouts, chunk offsets, send/recv pairing) checked on
the CPU against NumPy, with a stand-in for cupy.cuda.nccl that performs grouped calls on
host memory. The real library is exercised by the gpu-marked tests in test_pmap.py."""
import ctypes
import types

import numpy as np
import pytest

import tinyjax as jax
from tinyjax import lax
from tinyjax.backends import collectives
from tinyjax.backends.cpu import CpuDevice


def _view(ptr, count, dtype):
    dtype = np.dtype(dtype)
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype, count)


class FakeNccl:
    """Records the calls made between groupStart and groupEnd, then carries them out."""
    NCCL_SUM, NCCL_MAX, NCCL_MIN = 'sum', 'max', 'min'
    NCCL_FLOAT32, NCCL_INT32 = np.dtype(np.float32), np.dtype(np.int32)
    available = True

    def __init__(self):
        self.pending, self.depth, self.calls = [], 0, []

    def groupStart(self):
        self.depth += 1

    def groupEnd(self):
        self.depth -= 1
        if self.depth == 0:
            ops, self.pending = self.pending, []
            self._execute(ops)

    def get_version(self):
        return 23000

    def comm(self, rank, size):
        return types.SimpleNamespace(**{
            name: (lambda *a, _n=name: self._record(_n, rank, size, a))
            for name in ('allReduce', 'allGather', 'reduceScatter', 'send', 'recv')})

    def _record(self, name, rank, size, args):
        assert self.depth > 0, f'{name} outside groupStart/groupEnd'
        self.calls.append(name)
        self.pending.append((name, rank, size, args))

    def _execute(self, ops):
        by = {}
        for name, rank, size, args in ops:
            by.setdefault(name, []).append((rank, size, args))
        red = {'sum': np.sum, 'max': np.max, 'min': np.min}
        for rank, size, (s, r, n, dt, op, _) in by.get('allReduce', []):
            total = red[op](np.stack([_view(a[0], n, dt) for _, _, a in by['allReduce']]), 0)
            _view(r, n, dt)[:] = total
        for rank, size, (s, r, n, dt, _) in by.get('allGather', []):
            parts = sorted(by['allGather'])
            _view(r, n * size, dt)[:] = np.concatenate([_view(a[0], n, dt) for _, _, a in parts])
        for rank, size, (s, r, n, dt, op, _) in by.get('reduceScatter', []):
            total = np.sum(np.stack([_view(a[0], n * size, dt) for _, _, a in by['reduceScatter']]), 0)
            _view(r, n, dt)[:] = total[rank * n:(rank + 1) * n]
        sends = {}
        for rank, size, (ptr, n, dt, peer, _) in by.get('send', []):
            sends.setdefault((rank, peer), []).append(_view(ptr, n, dt).copy())
        for rank, size, (ptr, n, dt, peer, _) in by.get('recv', []):
            _view(ptr, n, dt)[:] = sends[(peer, rank)].pop(0)
        assert all(not v for v in sends.values()), 'a send without its recv'


class FakeGpu(CpuDevice):
    platform = 'cpu'

    def __init__(self, i):
        super().__init__(i)
        self.physical_id = i
        self.stream = types.SimpleNamespace(ptr=0)


@pytest.fixture
def fake(monkeypatch):
    nccl = FakeNccl()
    monkeypatch.setattr(collectives, 'nccl_module', lambda: nccl)
    devs = [FakeGpu(i) for i in range(8)]
    comms = [nccl.comm(r, 8) for r in range(8)]
    impl = collectives.NcclCollectives(devs, comms, collectives.DeviceCopyCollectives(devs))
    monkeypatch.setitem(collectives._chosen, tuple(devs), impl)
    return nccl, devs


def test_nccl_collectives_against_numpy(fake):
    nccl, devs = fake
    n = 8
    x = np.random.default_rng(0).standard_normal((n, 16, 3)).astype(np.float32)

    def run(f, arg=x):
        return np.asarray(jax.pmap(f, axis_name='i', devices=devs)(arg))

    np.testing.assert_allclose(run(lambda v: lax.psum(v, 'i')), np.broadcast_to(x.sum(0), x.shape), rtol=1e-5)
    np.testing.assert_allclose(run(lambda v: lax.pmax(v, 'i')), np.broadcast_to(x.max(0), x.shape))
    np.testing.assert_allclose(run(lambda v: lax.pmin(v.sum(), 'i')), np.full(n, x.sum((1, 2)).min()), rtol=1e-6)
    ints = np.arange(n * 4, dtype=np.int32).reshape(n, 4)
    np.testing.assert_array_equal(run(lambda v: lax.psum(v, 'i'), ints), np.broadcast_to(ints.sum(0), ints.shape))
    for axis, tiled in ((0, False), (1, False), (2, False), (0, True), (1, True)):
        f = lambda v: lax.all_gather(v, 'i', axis=axis, tiled=tiled)
        np.testing.assert_allclose(run(f), np.asarray(jax.vmap(f, axis_name='i')(x)))
    for dim in (0, 1):
        f = lambda v: lax.psum_scatter(v[:8].T if dim else v[:8], 'i', scatter_dimension=dim, tiled=True)
        np.testing.assert_allclose(run(f), np.asarray(jax.vmap(f, axis_name='i')(x)), rtol=1e-5)
    f = lambda v: lax.psum_scatter(v[:8], 'i')
    np.testing.assert_allclose(run(f), x[:, :8].sum(0), rtol=1e-5)
    perm = [(i, (i + 3) % n) for i in range(0, n, 2)]
    f = lambda v: lax.ppermute(v, 'i', perm)
    np.testing.assert_allclose(run(f), np.asarray(jax.vmap(f, axis_name='i')(x)))
    for split, concat, tiled in ((0, 0, True), (0, 1, True), (0, 1, False), (1, 0, False)):
        y = x[:, :8] if split == 0 else np.random.default_rng(1).standard_normal((n, 3, 8)).astype(np.float32)
        f = lambda v: lax.all_to_all(v, 'i', split, concat, tiled=tiled)
        np.testing.assert_allclose(run(f, y), np.asarray(jax.vmap(f, axis_name='i')(y)))
    assert {'allReduce', 'allGather', 'reduceScatter', 'send', 'recv'} <= set(nccl.calls)


def test_nccl_falls_back_for_dtypes_it_lacks(fake):
    nccl, devs = fake
    b = np.array([[True], [False]] * 4)
    out = jax.pmap(lambda v: lax.pmax(v, 'i'), axis_name='i', devices=devs)(b)
    np.testing.assert_array_equal(np.asarray(out), np.ones((8, 1), bool))
    assert nccl.calls == []


@pytest.mark.parametrize('as_bytes', [True, False])
def test_nccl_unique_id_reaches_every_process_in_the_form_cupy_takes(monkeypatch, as_bytes):
    """CuPy >= 14: get_unique_id() gives bytes and NcclCommunicator(ndev, commId, rank)
    takes only bytes (a tuple raises TypeError, which used to send multi-process pmap
    silently to the host path); older CuPy: a tuple of signed chars both ways."""
    from tinyjax import backends
    raw = bytes(range(128, 256))                          # bytes above 127 on purpose
    uid = raw if as_bytes else tuple(np.frombuffer(raw, np.int8).tolist())
    made = []

    class Comm:
        def __init__(self, ndev, comm_id, rank):
            assert type(comm_id) is type(uid) and comm_id == uid, comm_id
            made.append((ndev, rank))

    nccl = FakeNccl()
    nccl.get_unique_id, nccl.NcclCommunicator = (lambda: uid), Comm
    monkeypatch.setattr(collectives, 'nccl_module', lambda: nccl)
    store = {}
    client = types.SimpleNamespace(set=store.__setitem__, get=store.__getitem__)
    monkeypatch.setattr(backends, '_topology',
                        types.SimpleNamespace(process_index=0, client=client, mpi=None))
    devs = [FakeGpu(i) for i in range(2)]
    remote = backends.RemoteDevice(2, 1, 'gpu', 'fake')
    impl = collectives.NcclCollectives.across_processes(devs + [remote], None)
    assert made == [(3, 0), (3, 1)] and impl.local_pos == [0, 1]
    assert collectives.decode_unique_id(collectives.encode_unique_id(uid)) == uid


def test_multi_rank_switch_reads_zero_as_off(monkeypatch):
    monkeypatch.setattr(collectives, 'nccl_module', lambda: FakeNccl())
    shared = [FakeGpu(0), FakeGpu(0)]
    for value, want in (('1', True), ('0', False), ('', False)):
        monkeypatch.setenv('NCCL_MULTI_RANK_GPU_ENABLE', value)
        assert collectives.nccl_usable(shared) is want
