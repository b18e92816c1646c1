// tj_reduce.cuh: the row-reduction templates. Generated row kernels (see
// tinyjax/compiler/codegen_reduce.py) give each output row to a group of threads that
// stride over the row, apply the fused prologue (a lambda: value of the reduced operand
// at column j) and fold into a register, then combine across the group. Several
// reductions over the same rows (softmax's max then sum, layernorm's mean then
// variance) run one after another, and an epilogue loop writes elementwise outputs that
// use the row results. Two layouts:
//
//  - warp rows (short rows): a warp per row, several rows per block; the combine is
//    warp shuffles only, so warps never wait for each other.
//  - block rows (long rows): a block per (row, chunk). With one chunk per row the
//    kernel runs once (pass -1). A few long rows are split into chunks and the kernel
//    runs in passes: pass k folds reduction k over each chunk into partials[row][chunk]
//    (combining the partials of reductions < k first, which it needs), and the last
//    pass combines every reduction's partials and writes the outputs. Chunking and the
//    combine order are fixed, with no atomics, so results are bitwise reproducible.
//
// The host variant (TJ_HOST, one host thread per block) keeps the row and chunk
// indexing: a host "warp" is one thread, and a host block runs TJ_HOST_WARPS of them in
// turn so the warp-rows mapping is exercised; shuffles and block combines are the
// identity there.
#pragma once
#include "tj_common.cuh"

struct tj_op_sum { template <typename T> TJ_METHOD T operator()(T a, T b) const { return a + b; } };
struct tj_op_prod { template <typename T> TJ_METHOD T operator()(T a, T b) const { return a * b; } };
struct tj_op_max { template <typename T> TJ_METHOD T operator()(T a, T b) const { return tj_max(a, b); } };
struct tj_op_min { template <typename T> TJ_METHOD T operator()(T a, T b) const { return tj_min(a, b); } };
struct tj_op_and { template <typename T> TJ_METHOD T operator()(T a, T b) const { return a & b; } };
struct tj_op_or { template <typename T> TJ_METHOD T operator()(T a, T b) const { return a | b; } };

#ifdef TJ_HOST
#define TJ_HOST_WARPS 8
TJ_DEV int tj_lane() { return 0; }
TJ_DEV int tj_lanes() { return 1; }
TJ_DEV int tj_warps_per_block() { return TJ_HOST_WARPS; }
TJ_DEV int tj_warp_first() { return 0; }
TJ_DEV int tj_warp_end() { return TJ_HOST_WARPS; }
#else
TJ_DEV int tj_lane() { return (int)(threadIdx.x & 31); }
TJ_DEV int tj_lanes() { return 32; }
TJ_DEV int tj_warps_per_block() { return (int)(blockDim.x >> 5); }
// The warps this thread runs: its own on the GPU (a loop of one iteration).
TJ_DEV int tj_warp_first() { return (int)(threadIdx.x >> 5); }
TJ_DEV int tj_warp_end() { return (int)(threadIdx.x >> 5) + 1; }
#endif

// Combine one value per lane of a warp; every lane gets lane 0's result (the same bits
// in every lane, so the epilogue sees one value per row).
template <typename T, typename Op> TJ_DEV T tj_warp_reduce(T v, Op op) {
#ifdef TJ_HOST
    (void)op;
#else
    for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, off));
    v = __shfl_sync(0xffffffffu, v, 0);
#endif
    return v;
}

// Combine one value per thread into one value, returned to every thread of the block.
// blockDim.x must be a multiple of 32 (the launcher guarantees it).
template <typename T, typename Op> TJ_DEV T tj_block_reduce(T v, T init, Op op) {
#ifdef TJ_HOST
    (void)init; (void)op;
    return v;
#else
    __shared__ unsigned long long tj_smem[33];  // one slot per warp, +1 for the result
    T* s = reinterpret_cast<T*>(tj_smem);
    for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, off));
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();  // an earlier call may still be reading s
    if (lane == 0) s[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < (int)((blockDim.x + 31) >> 5) ? s[lane] : init;
        for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, off));
        if (lane == 0) s[32] = v;
    }
    __syncthreads();
    return s[32];
#endif
}

// --- warp rows ------------------------------------------------------------------------
// Fold prologue(j) for j in [0, n) over the lanes of a warp (the hook for fused input).
template <typename Acc, typename I, typename Op, typename F>
TJ_DEV Acc tj_warp_row_reduce(I n, Acc init, Op op, F prologue) {
    Acc acc = init;
    for (I j = (I)tj_lane(); j < n; j += (I)tj_lanes()) acc = op(acc, (Acc)prologue(j));
    return tj_warp_reduce(acc, op);
}

// The epilogue: body(j) for every column of the warp's row.
template <typename I, typename F> TJ_DEV void tj_warp_row_for(I n, F body) {
    for (I j = (I)tj_lane(); j < n; j += (I)tj_lanes()) body(j);
}

// --- block rows -----------------------------------------------------------------------
// Fold prologue(j) for j in [begin, end) over the threads of a block.
template <typename Acc, typename I, typename Op, typename F>
TJ_DEV Acc tj_row_reduce(I begin, I end, Acc init, Op op, F prologue) {
    Acc acc = init;
    for (I j = begin + (I)threadIdx.x; j < end; j += (I)blockDim.x) acc = op(acc, (Acc)prologue(j));
    return tj_block_reduce(acc, init, op);
}

// Reduction k of a block-rows kernel, for one (row, chunk) task, in pass `pass`:
// -1 (one chunk per row): fold the whole row [begin, end); k: fold the chunk into
// part[chunk]; later passes: combine the row's partials part[0..n_chunks) in a fixed
// order. `part` points at this row's partials of reduction k.
template <typename Acc, typename I, typename Op, typename F>
TJ_DEV Acc tj_chunk_reduce(int pass, int k, Acc* part, I chunk, I n_chunks, I begin, I end,
                           Acc init, Op op, F prologue) {
    if (pass > k) return tj_row_reduce((I)0, n_chunks, init, op, [&](I c) { return part[c]; });
    const Acc v = tj_row_reduce(begin, end, init, op, prologue);
    if (pass == k && threadIdx.x == 0) part[chunk] = v;
    return v;
}

// Where reduction k keeps the partials of `row`: slots of 8 bytes, n_chunks per row.
template <typename Acc, typename I>
TJ_DEV Acc* tj_partials(unsigned long long* part, int k, I n_rows, I row, I n_chunks) {
    return reinterpret_cast<Acc*>(part + ((I)k * n_rows + row) * n_chunks);
}

// The epilogue: body(j) for every column in [begin, end).
template <typename I, typename F> TJ_DEV void tj_row_for(I begin, I end, F body) {
    for (I j = begin + (I)threadIdx.x; j < end; j += (I)blockDim.x) body(j);
}
