"""cuBLAS and NCCL of the emulated GPUs, on raw device pointers as the real ones take.

cuBLAS: `gemmEx` and `gemmStridedBatchedEx` read column-major operands through their
pointers, leading dimensions and batch strides (checked against the live allocations:
a wrong stride fails here instead of reading a neighbour's memory) and compute with
NumPy. CUBLAS_COMPUTE_32F_FAST_TF32, or TF32 math mode with CUBLAS_COMPUTE_32F, rounds
float32 inputs to TF32 (10 mantissa bits, to nearest even) as tensor cores do; bfloat16
and float16 multiply in float32 and round the result once. A handle belongs to the GPU
that was current when CuPy made it; a call while another GPU is current is an error.

NCCL: communicators over the emulated GPUs of this process. Calls inside
groupStart/groupEnd are queued and run at groupEnd, when every rank has posted; a
collective over several ranks outside a group would wait forever for the other ranks on
a GPU (one thread drives them all) and is an error here. Ranks must issue the same
collectives with the same counts and types, every send needs its receive, and each
rank's buffers must live on its own GPU. No transport: processes do not connect.
"""
import ctypes
import itertools
import os
import threading
import weakref

import numpy as np

from tinyjax import dtypes
from tinyjax.backends.emulated import memory
from tinyjax.backends.emulated.arrays import unwrap, wrap
from tinyjax.backends.emulated.devices import check_stream

# --- cuBLAS --------------------------------------------------------------------------------
CUBLAS_DEFAULT_MATH, CUBLAS_TENSOR_OP_MATH, CUBLAS_PEDANTIC_MATH = 0, 1, 2
CUBLAS_TF32_TENSOR_OP_MATH = 3
CUBLAS_OP_N, CUBLAS_OP_T = 0, 1
COMPUTE_32F, COMPUTE_32F_FAST_TF32, COMPUTE_64F = 68, 77, 70
DATA_TYPES = {0: np.dtype(np.float32), 1: np.dtype(np.float64), 2: np.dtype(np.float16),
              14: np.dtype(dtypes.bfloat16)}


class Handle:
    _ids = itertools.count(0x7000)

    def __init__(self, device):
        self.device, self.ptr, self.math_mode = device, next(Handle._ids), CUBLAS_DEFAULT_MATH


_handles, _handles_by_ptr = {}, {}


def handle_for(device):
    h = _handles.get(device)
    if h is None:
        h = _handles[device] = Handle(device)
        _handles_by_ptr[h.ptr] = h
    return h.ptr


def _handle(ptr, what):
    h = _handles_by_ptr.get(int(ptr))
    if h is None:
        raise RuntimeError(f'{what}: CUBLAS_STATUS_NOT_INITIALIZED (unknown handle {ptr!r})')
    if h.device != memory.current_device():
        raise RuntimeError(f'{what}: the cuBLAS handle belongs to GPU {h.device} but GPU '
                           f'{memory.current_device()} is current')
    return h


def setMathMode(handle, mode):
    _handle(handle, 'cublasSetMathMode').math_mode = int(mode)


def getMathMode(handle):
    return _handle(handle, 'cublasGetMathMode').math_mode


def setStream(handle, stream):
    _handle(handle, 'cublasSetStream')


def round_to_tf32(x):
    """float32 values rounded to TF32's 10 mantissa bits (nearest, ties to even)."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32)
    finite = (u & 0x7f800000) != 0x7f800000
    r = (u + 0xfff + ((u >> 13) & 1)) & 0xffffe000
    return np.where(finite, r, u).view(np.float32)


def _host_scalar(ptr, dtype):
    return np.ctypeslib.as_array((ctypes.c_char * dtype.itemsize).from_address(int(ptr))).view(dtype)[0]


def _matrices(ptr, dtype, trans, rows, cols, ld, stride, batch, device, what):
    """op(X) for each batch entry: rows x cols column-major matrices read through ptr."""
    stored_rows, stored_cols = (rows, cols) if trans == CUBLAS_OP_N else (cols, rows)
    if ld < max(1, stored_rows):
        raise RuntimeError(f'{what}: CUBLAS_STATUS_INVALID_VALUE: leading dimension {ld} < '
                           f'{stored_rows} rows')
    span = (batch - 1) * stride + (stored_cols - 1) * ld + stored_rows
    flat = memory.view(int(ptr), span, dtype, what, device)
    isz = dtype.itemsize
    out = np.lib.stride_tricks.as_strided(
        flat, shape=(batch, stored_rows, stored_cols), strides=(stride * isz, isz, ld * isz),
        writeable=False)
    return out if trans == CUBLAS_OP_N else out.transpose(0, 2, 1)


def _gemm(handle, transa, transb, m, n, k, alpha, A, atype, lda, sa, B, btype, ldb, sb,
          beta, C, ctype, ldc, sc, batch, compute, what):
    h = _handle(handle, what)
    dt = DATA_TYPES.get(int(atype))
    if dt is None or int(btype) != int(atype) or int(ctype) != int(atype):
        raise RuntimeError(f'{what}: CUBLAS_STATUS_NOT_SUPPORTED for types {atype}, {btype}, {ctype}')
    scale = np.dtype(np.float64 if compute == COMPUTE_64F else np.float32)
    a = _matrices(A, dt, transa, m, k, lda, sa, batch, h.device, what + ' A')
    b = _matrices(B, dt, transb, k, n, ldb, sb, batch, h.device, what + ' B')
    if ldc < max(1, m):
        raise RuntimeError(f'{what}: CUBLAS_STATUS_INVALID_VALUE: ldc {ldc} < m {m}')
    span = (batch - 1) * sc + (n - 1) * ldc + m
    c_flat = memory.view(int(C), span, dt, what + ' C', h.device)
    c = np.lib.stride_tricks.as_strided(c_flat, shape=(batch, m, n),
                                        strides=(sc * dt.itemsize, dt.itemsize, ldc * dt.itemsize))
    work = np.float64 if dt == np.float64 else np.float32
    a, b = a.astype(work), b.astype(work)
    tf32 = dt == np.float32 and (compute == COMPUTE_32F_FAST_TF32 or (
        compute == COMPUTE_32F and h.math_mode == CUBLAS_TF32_TENSOR_OP_MATH))
    if tf32:
        a, b = round_to_tf32(a), round_to_tf32(b)
    al, be = _host_scalar(alpha, scale), _host_scalar(beta, scale)
    prod = al * np.matmul(a, b)
    if be != 0:
        prod = prod + be * c.astype(work)
    c[...] = prod.astype(dt)


def gemmStridedBatchedEx(handle, transa, transb, m, n, k, alpha, A, atype, lda, strideA,
                         B, btype, ldb, strideB, beta, C, ctype, ldc, strideC, batch,
                         computeType, algo):
    _gemm(handle, transa, transb, m, n, k, alpha, A, atype, lda, strideA, B, btype, ldb,
          strideB, beta, C, ctype, ldc, strideC, batch, computeType,
          'cublasGemmStridedBatchedEx')


def gemmEx(handle, transa, transb, m, n, k, alpha, A, atype, lda, B, btype, ldb, beta, C,
           ctype, ldc, computeType, algo):
    _gemm(handle, transa, transb, m, n, k, alpha, A, atype, lda, 0, B, btype, ldb, 0,
          beta, C, ctype, ldc, 0, 1, computeType, 'cublasGemmEx')


# CuPy's own GEMM setting for cupy.matmul of 2-D float32 operands (cupy._core._routines_linalg).
COMPUTE_TYPE_TBD, COMPUTE_TYPE_DEFAULT, COMPUTE_TYPE_PEDANTIC, COMPUTE_TYPE_TF32 = 0, 1, 2, 7
_compute_types = {}


def get_compute_type(dtype):
    default = COMPUTE_TYPE_TF32 if os.environ.get('CUPY_TF32', '0') == '1' else COMPUTE_TYPE_DEFAULT
    return _compute_types.get(np.dtype(dtype), default)


def set_compute_type(dtype, compute_type):
    _compute_types[np.dtype(dtype)] = compute_type


def matmul(a, b, out=None, **kwargs):
    """cupy.matmul: 2-D float32 follows CuPy's compute type, batched float32 the handle's
    math mode (CuPy calls cuBLAS with CUBLAS_COMPUTE_32F); 16-bit floats multiply in
    float32 and round once."""
    x, y = unwrap(a, 'matmul'), unwrap(b, 'matmul')
    dt = np.result_type(x, y)
    if dt == np.float32:
        h = _handles_by_ptr[handle_for(memory.current_device())]
        tf32 = (get_compute_type(np.float32) == COMPUTE_TYPE_TF32 if max(x.ndim, y.ndim) <= 2
                else h.math_mode == CUBLAS_TF32_TENSOR_OP_MATH)
        if tf32:
            x, y = round_to_tf32(x), round_to_tf32(y)
    if dt.itemsize == 2 and dt.kind == 'V' or dt in (np.float16, np.dtype(dtypes.bfloat16)):
        r = np.matmul(x.astype(np.float32), y.astype(np.float32)).astype(dt)
    else:
        r = np.matmul(x, y)
    if out is not None:
        out._a[...] = r
        return out
    return wrap(r)


# --- NCCL ----------------------------------------------------------------------------------
available = True
NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32, NCCL_INT64, NCCL_UINT64 = range(6)
NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64, NCCL_BFLOAT16 = 6, 7, 8, 9
NCCL_CHAR, NCCL_INT, NCCL_HALF, NCCL_FLOAT, NCCL_DOUBLE = 0, 2, 6, 7, 8
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN, NCCL_AVG = range(5)
NCCL_DTYPES = {0: np.int8, 1: np.uint8, 2: np.int32, 3: np.uint32, 4: np.int64, 5: np.uint64,
               6: np.float16, 7: np.float32, 8: np.float64, 9: dtypes.bfloat16}
VERSION = 22707     # the nvidia-nccl-cu13 wheel's 2.27.7: ranks may not share a GPU


def get_version():
    return VERSION


_uid_counter = itertools.count(1)


def get_unique_id():
    return next(_uid_counter).to_bytes(8, 'little') + bytes(120)


class _Clique:
    def __init__(self, size):
        self.size, self.members, self.queued = size, {}, []
        _pending.add(self)


_cliques, _state = {}, threading.local()
_pending = weakref.WeakSet()      # every clique, for groupEnd to run what they queued


def _depth():
    return getattr(_state, 'depth', 0)


def groupStart():
    _state.depth = _depth() + 1


def groupEnd():
    if _depth() == 0:
        raise RuntimeError('ncclGroupEnd without ncclGroupStart')
    _state.depth = _depth() - 1
    if _state.depth == 0:
        for clique in list(_pending):
            if clique.queued:
                ops, clique.queued = clique.queued, []
                _run(clique, ops)


class NcclCommunicator:
    def __init__(self, ndev, commId, rank):
        key = bytes(commId) if not isinstance(commId, _Clique) else commId
        clique = key if isinstance(key, _Clique) else _cliques.setdefault(key, _Clique(ndev))
        if clique.size != ndev or not 0 <= rank < ndev or rank in clique.members:
            raise RuntimeError(f'ncclCommInitRank: invalid rank {rank} of {ndev}')
        self.clique, self.rank = clique, rank
        self.device = memory.current_device()
        if any(m.device == self.device for m in clique.members.values()):
            raise RuntimeError(f'ncclCommInitRank: two ranks on GPU {self.device}: NCCL '
                               f'{VERSION} does not put several ranks on one GPU')
        clique.members[rank] = self

    @staticmethod
    def initAll(devices):
        devices = [devices] if isinstance(devices, int) else list(devices)
        clique = _Clique(len(devices))
        comms = []
        for rank, d in enumerate(devices):
            saved = memory.current_device()
            memory.set_current_device(int(d))
            try:
                comms.append(NcclCommunicator(len(devices), clique, rank))
            finally:
                memory.set_current_device(saved)
        return comms

    def rank_id(self):
        return self.rank

    def size(self):
        return self.clique.size

    def device_id(self):
        return self.device

    def destroy(self):
        self.clique.members.pop(self.rank, None)

    def _post(self, op, stream):
        check_stream(stream, self.device, f'NCCL {op[0]} (rank {self.rank})')
        self.clique.queued.append((self.rank,) + op)
        if _depth() == 0:
            if self.clique.size > 1:
                self.clique.queued.pop()
                raise RuntimeError(
                    f'NCCL {op[0]} on rank {self.rank} of {self.clique.size} outside '
                    'groupStart/groupEnd: on a GPU this call waits for the other ranks, '
                    'which this thread has not reached yet (a deadlock)')
            ops, self.clique.queued = self.clique.queued, []
            _run(self.clique, ops)

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        self._post(('allReduce', sendbuf, recvbuf, count, datatype, op), stream)

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):
        self._post(('allGather', sendbuf, recvbuf, count, datatype, None), stream)

    def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):
        self._post(('reduceScatter', sendbuf, recvbuf, recvcount, datatype, op), stream)

    def bcast(self, buff, count, datatype, root, stream):
        self._post(('broadcast', buff, buff, count, datatype, root), stream)

    def broadcast(self, sendbuf, recvbuf, count, datatype, root, stream):
        self._post(('broadcast', sendbuf, recvbuf, count, datatype, root), stream)

    def send(self, sendbuf, count, datatype, peer, stream):
        self._post(('send', sendbuf, None, count, datatype, peer), stream)

    def recv(self, recvbuf, count, datatype, peer, stream):
        self._post(('recv', None, recvbuf, count, datatype, peer), stream)


_REDUCE = {NCCL_SUM: np.add, NCCL_PROD: np.multiply, NCCL_MAX: np.maximum, NCCL_MIN: np.minimum}


def _reduce(parts, op, dt):
    if op == NCCL_AVG:
        return (np.sum(np.stack(parts).astype(np.float64), 0) / len(parts)).astype(dt)
    return _REDUCE[op].reduce(np.stack(parts), axis=0).astype(dt)


def _run(clique, ops):
    """Run one group's calls: collectives matched rank by rank in issue order, then the
    point-to-point transfers matched by (source, destination) in issue order."""
    n = clique.size
    missing = set(range(n)) - set(clique.members)
    if missing:
        raise RuntimeError(f'NCCL: ranks {sorted(missing)} of {n} have no communicator')
    dev = {r: m.device for r, m in clique.members.items()}
    coll = {r: [o for o in ops if o[0] == r and o[1] not in ('send', 'recv')] for r in range(n)}
    lengths = {len(v) for v in coll.values()}
    if len(lengths) > 1:
        raise RuntimeError('NCCL: the ranks issued different numbers of collectives in one '
                           f'group ({ {r: len(v) for r, v in coll.items()} }): a GPU would hang')
    for calls in zip(*[coll[r] for r in range(n)]):
        kinds = {(c[1], int(c[4]), int(c[5]), c[6]) for c in calls}
        if len(kinds) > 1:
            raise RuntimeError(f'NCCL: ranks disagree on a collective: {sorted(kinds)}')
        kind, count, dt = calls[0][1], int(calls[0][4]), np.dtype(NCCL_DTYPES[int(calls[0][5])])
        op = calls[0][6]

        def src(c, m):
            return memory.view(int(c[2]), m, dt, f'NCCL {kind} send (rank {c[0]})', dev[c[0]]).copy()

        def dst(c, m):
            return memory.view(int(c[3]), m, dt, f'NCCL {kind} receive (rank {c[0]})', dev[c[0]])
        if kind == 'allReduce':
            total = _reduce([src(c, count) for c in calls], op, dt)
            for c in calls:
                dst(c, count)[...] = total
        elif kind == 'allGather':
            parts = np.concatenate([src(c, count) for c in calls])
            for c in calls:
                dst(c, count * n)[...] = parts
        elif kind == 'reduceScatter':
            total = _reduce([src(c, count * n) for c in calls], op, dt)
            for c in calls:
                dst(c, count)[...] = total[c[0] * count:(c[0] + 1) * count]
        elif kind == 'broadcast':
            value = src(calls[op], count)
            for c in calls:
                dst(c, count)[...] = value
    sends = [o for o in ops if o[1] == 'send']
    recvs = [o for o in ops if o[1] == 'recv']
    staged = []
    for r in recvs:
        match = next((s for s in sends if s[0] == r[6] and s[6] == r[0]), None)
        if match is None:
            raise RuntimeError(f'NCCL: rank {r[0]} receives from rank {r[6]}, which sends '
                               'nothing to it in this group: a GPU would hang')
        sends.remove(match)
        if (int(match[4]), int(match[5])) != (int(r[4]), int(r[5])):
            raise RuntimeError(f'NCCL: send {match[4]}x type {match[5]} from rank {match[0]} '
                               f'meets receive {r[4]}x type {r[5]} on rank {r[0]}')
        dt = np.dtype(NCCL_DTYPES[int(r[5])])
        data = memory.view(int(match[2]), int(r[4]), dt, f'NCCL send (rank {match[0]})',
                           dev[match[0]]).copy()
        staged.append((memory.view(int(r[3]), int(r[4]), dt, f'NCCL recv (rank {r[0]})',
                                   dev[r[0]]), data))
    if sends:
        raise RuntimeError(f'NCCL: {len(sends)} sends have no matching receive: a GPU would hang')
    for view, data in staged:
        view[...] = data
