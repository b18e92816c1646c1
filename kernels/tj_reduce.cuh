// tj_reduce.cuh: the row-reduction template. A reduction kernel gives one block to each
// output row (grid-stride over rows); the block's threads stride over the row, apply the
// fused prologue (a lambda the generator writes: value of the reduced operand at column
// j) and fold into a register, then combine across the block. Several reductions over
// the same rows (softmax's max then sum, layernorm's mean then variance) run one after
// another in the same kernel, and an epilogue loop (tj_row_for) writes elementwise
// outputs that use the row results.
//
// The host variant (TJ_HOST) runs with a single thread per block, so the block
// combine is the identity and no shared memory or warp shuffles are needed.
#pragma once
#include "tj_common.cuh"

struct tj_op_sum { template <typename T> TJ_METHOD T operator()(T a, T b) const { return a + b; } };
struct tj_op_prod { template <typename T> TJ_METHOD T operator()(T a, T b) const { return a * b; } };
struct tj_op_max { template <typename T> TJ_METHOD T operator()(T a, T b) const { return tj_max(a, b); } };
struct tj_op_min { template <typename T> TJ_METHOD T operator()(T a, T b) const { return tj_min(a, b); } };
struct tj_op_and { template <typename T> TJ_METHOD T operator()(T a, T b) const { return a & b; } };
struct tj_op_or { template <typename T> TJ_METHOD T operator()(T a, T b) const { return a | b; } };

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

// Fold prologue(j) for j in [0, n) into one value per row (the hook for fused input).
template <typename Acc, typename I, typename Op, typename F>
TJ_DEV Acc tj_row_reduce(I n, Acc init, Op op, F prologue) {
    Acc acc = init;
    for (I j = (I)threadIdx.x; j < n; j += (I)blockDim.x) acc = op(acc, (Acc)prologue(j));
    return tj_block_reduce(acc, init, op);
}

// The epilogue: body(j) for every column of the row.
template <typename I, typename F> TJ_DEV void tj_row_for(I n, F body) {
    for (I j = (I)threadIdx.x; j < n; j += (I)blockDim.x) body(j);
}
