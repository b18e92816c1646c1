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

// --- the per-thread fold ---------------------------------------------------------------
// A thread folds the columns it owns with TJ_RU x TJ_RV independent accumulators: column
// vector v (TJ_RV consecutive columns) goes to accumulator set (v's step within the
// thread) % TJ_RU, lane l of it to accumulator l. TJ_RU vectors are loaded before any is
// folded, so a thread keeps TJ_RU 16-byte loads in flight (the GPU's 128-bit LDG when
// `vec`), and the fold never waits on one chain of dependent adds. Which column goes to
// which accumulator depends only on (begin, end, t, nt), and the accumulators combine in
// a fixed order, so a result is the same bits on every run; with `vec` false (a buffer
// not aligned to 16 bytes) the same columns go to the same accumulators through scalar
// loads, so alignment does not change the result either.
//
// tj_for below walks a row with the same column-to-thread map as tj_fold, so a column's
// epilogue runs on the thread that folded it, and can read back what the fold's lambda
// stored for it (codegen_reduce.py's stash: softmax's exp) without a barrier.
//
// pv(v) returns the reduced operand at columns [v*TJ_RV, v*TJ_RV + TJ_RV) (vector loads
// of the buffers read contiguously along the row); p1(j) returns it at column j. Only
// columns past the last whole vector (fewer than TJ_RV per row) go through p1 alone.
#define TJ_RV 4
#define TJ_RU 2
struct tj_no_vec {};   // pv of a kernel with no contiguous row loads: gather through p1

template <typename Acc, typename I, typename FV, typename F>
TJ_DEV tj_vec<Acc, TJ_RV> tj_columns(FV pv, F p1, I v, bool vec) {
    tj_vec<Acc, TJ_RV> x;
    if constexpr (!tj_same<FV, tj_no_vec>::value) {
        if (vec) return pv(v);
    }
    TJ_UNROLL
    for (int l = 0; l < TJ_RV; ++l) x.v[l] = p1(v * (I)TJ_RV + (I)l);
    return x;
}

#ifdef TJ_HOST
// The host's fold and walk (one thread: t == 0, nt == 1). g++ vectorises a plain loop over
// the columns, math calls included (libmvec), but not the unrolled lanes of the GPU's
// form (bench softmax 512x4096: 35 ms that way, every exp a scalar expf call). So column
// begin + i folds into accumulator i % w, w a power of two up to TJ_HOST_ACCS (the row's
// length rounded up, so that a short row does not pay for a wide combine): the loop over
// a stretch of w columns has no dependence between iterations and vectorises, and the w
// accumulators combine pairwise at the end. A fixed assignment and a fixed combine order,
// so a host result is reproducible too. 64 (8 AVX2 registers): with 256 the accumulators
// lived in memory, a load and a store per vector, and layernorm's folds and softmax's max
// ran 1.2-1.4x slower (one thread, 512x4096).
#define TJ_HOST_ACCS 64
template <typename Acc, typename I, typename Op, typename FV, typename F>
TJ_DEV Acc tj_fold(I begin, I end, I t, I nt, Acc init, Op op, bool vec, FV pv, F p1) {
    (void)t; (void)nt; (void)vec; (void)pv;
    Acc acc[TJ_HOST_ACCS];
    int w = 1;
    while (w < TJ_HOST_ACCS && (I)w < end - begin) w <<= 1;
    for (int i = 0; i < w; ++i) acc[i] = init;
    I jt = begin;
    // Whole stretches first, in a loop of constant length: g++ turns its vector form into
    // straight code and keeps the accumulators in registers (the loop below, of variable
    // length, loads and stores them once per vector and tests its end after each), which
    // took a float sum over 2^20 from about 100 to 80 us (one thread). Under -fwrapv, g++
    // must also be told that jt + i cannot wrap (jt + TJ_HOST_ACCS <= end), else it
    // gathers the elements one by one. The same columns fold into the same accumulators in
    // the same order as in the loop below: the same bits.
    if (w == TJ_HOST_ACCS)
        for (; end - jt >= (I)TJ_HOST_ACCS; jt += (I)TJ_HOST_ACCS) {
            if (jt > (I)((1ULL << (8 * sizeof(I) - 1)) - 1 - TJ_HOST_ACCS)) __builtin_unreachable();
            for (int i = 0; i < TJ_HOST_ACCS; ++i) acc[i] = op(acc[i], p1(jt + (I)i));
        }
    for (; jt < end; jt += (I)w) {
        const int n = end - jt < (I)w ? (int)(end - jt) : w;
        // j itself is the loop's counter: under -fwrapv an index jt + i could wrap, which
        // would keep g++ from seeing consecutive addresses
        for (I j = jt; j < jt + (I)n; ++j) acc[j - jt] = op(acc[j - jt], p1(j));
    }
    for (int h = w >> 1; h > 0; h >>= 1)
        for (int i = 0; i < h; ++i) acc[i] = op(acc[i], acc[i + h]);
    return acc[0];
}

template <typename I, typename FV, typename F>
TJ_DEV void tj_for(I begin, I end, I t, I nt, bool vec, FV bv, F b1) {
    (void)t; (void)nt; (void)vec; (void)bv;
    for (I j = begin; j < end; ++j) b1(j);
}
#else
template <typename Acc, typename I, typename Op, typename FV, typename F>
TJ_DEV Acc tj_fold(I begin, I end, I t, I nt, Acc init, Op op, bool vec, FV pv, F p1) {
    Acc acc[TJ_RU][TJ_RV];
    TJ_UNROLL
    for (int u = 0; u < TJ_RU; ++u) {
        TJ_UNROLL
        for (int l = 0; l < TJ_RV; ++l) acc[u][l] = init;
    }
    const I ve = end / (I)TJ_RV;        // begin is a multiple of TJ_RV (the launcher's chunks)
    I v = begin / (I)TJ_RV + t;
    for (; v + (I)(TJ_RU - 1) * nt < ve; v += (I)TJ_RU * nt) {
        tj_vec<Acc, TJ_RV> x[TJ_RU];
        TJ_UNROLL
        for (int u = 0; u < TJ_RU; ++u) x[u] = tj_columns<Acc>(pv, p1, v + (I)u * nt, vec);
        TJ_UNROLL
        for (int u = 0; u < TJ_RU; ++u) {
            TJ_UNROLL
            for (int l = 0; l < TJ_RV; ++l) acc[u][l] = op(acc[u][l], x[u].v[l]);
        }
    }
    for (; v < ve; v += nt) {           // fewer than TJ_RU vectors left for this thread
        const tj_vec<Acc, TJ_RV> x = tj_columns<Acc>(pv, p1, v, vec);
        TJ_UNROLL
        for (int l = 0; l < TJ_RV; ++l) acc[TJ_RU - 1][l] = op(acc[TJ_RU - 1][l], x.v[l]);
    }
    const I tail = (ve * (I)TJ_RV > begin ? ve * (I)TJ_RV : begin) + t;
    for (I j = tail; j < end; j += nt) acc[0][0] = op(acc[0][0], p1(j));   // < TJ_RV columns
    TJ_UNROLL
    for (int u = 1; u < TJ_RU; ++u) {
        TJ_UNROLL
        for (int l = 0; l < TJ_RV; ++l) acc[0][l] = op(acc[0][l], acc[u][l]);
    }
    Acc r = acc[0][0];
    TJ_UNROLL
    for (int l = 1; l < TJ_RV; ++l) r = op(r, acc[0][l]);
    return r;
}

// The epilogue's walk: bv(v) handles whole column vectors (vector loads and stores when
// `vec`, else scalar), b1(j) one column past the last whole vector.
template <typename I, typename FV, typename F>
TJ_DEV void tj_for(I begin, I end, I t, I nt, bool vec, FV bv, F b1) {
    const I ve = end / (I)TJ_RV;
    for (I v = begin / (I)TJ_RV + t; v < ve; v += nt) {
        if constexpr (!tj_same<FV, tj_no_vec>::value) {
            if (vec) { bv(v); continue; }
        }
        TJ_UNROLL
        for (int l = 0; l < TJ_RV; ++l) b1(v * (I)TJ_RV + (I)l);
    }
    const I tail = (ve * (I)TJ_RV > begin ? ve * (I)TJ_RV : begin) + t;
    for (I j = tail; j < end; j += nt) b1(j);
}

#endif

// --- warp rows ------------------------------------------------------------------------
// Fold the operand over the n columns of a warp's row (p1/pv: the fused prologue).
template <typename Acc, typename I, typename Op, typename FV, typename F>
TJ_DEV Acc tj_warp_row_reduce(I n, Acc init, Op op, bool vec, FV pv, F p1) {
    return tj_warp_reduce(tj_fold((I)0, n, (I)tj_lane(), (I)tj_lanes(), init, op, vec, pv, p1), op);
}

// The epilogue over every column of the warp's row.
template <typename I, typename FV, typename F>
TJ_DEV void tj_warp_row_for(I n, bool vec, FV bv, F b1) {
    tj_for((I)0, n, (I)tj_lane(), (I)tj_lanes(), vec, bv, b1);
}

// --- block rows -----------------------------------------------------------------------
// Fold columns [begin, end) over the threads of a block.
template <typename Acc, typename I, typename Op, typename FV, typename F>
TJ_DEV Acc tj_row_reduce(I begin, I end, Acc init, Op op, bool vec, FV pv, F p1) {
    return tj_block_reduce(tj_fold(begin, end, (I)threadIdx.x, (I)blockDim.x, init, op, vec, pv, p1),
                           init, op);
}

// Reduction k of a block-rows kernel, for one (row, chunk) task, in pass `pass`:
// -1 (one chunk per row): fold the whole row [begin, end); k: fold the chunk into
// part[chunk]; later passes: combine the row's partials part[0..n_chunks) in a fixed
// order. `part` points at this row's partials of reduction k.
template <typename Acc, typename I, typename Op, typename FV, typename F>
TJ_DEV Acc tj_chunk_reduce(int pass, int k, Acc* part, I chunk, I n_chunks, I begin, I end,
                           Acc init, Op op, bool vec, FV pv, F p1) {
    if (pass > k)
        return tj_row_reduce((I)0, n_chunks, init, op, false, tj_no_vec(), [&](I c) { return part[c]; });
    const Acc v = tj_row_reduce(begin, end, init, op, vec, pv, p1);
    if (pass == k && threadIdx.x == 0) part[chunk] = v;
    return v;
}

// Where reduction k keeps the partials of `row`: slots of 8 bytes, n_chunks per row.
template <typename Acc, typename I>
TJ_DEV Acc* tj_partials(unsigned long long* part, int k, I n_rows, I row, I n_chunks) {
    return reinterpret_cast<Acc*>(part + ((I)k * n_rows + row) * n_chunks);
}

// The epilogue over the columns [begin, end) of a (row, chunk).
template <typename I, typename FV, typename F> TJ_DEV void tj_row_for(I begin, I end, bool vec, FV bv, F b1) {
    tj_for(begin, end, (I)threadIdx.x, (I)blockDim.x, vec, bv, b1);
}

// --- column reductions ------------------------------------------------------------------
// One output per thread, reducing over leading axes (codegen_columns.py): p(row, j) is the
// operand at output `row` and reduced index j, e(row, acc) writes the row's outputs. On
// the GPU a thread folds its j's with 4 independent accumulators (4 loads in flight; a
// warp's loads are 32 consecutive rows: coalesced), combined in a fixed order. On the
// host a block's share of rows goes in tiles of TJ_HOST_COLS rows, j outermost, so the
// loop over the rows of a tile reads consecutive addresses and vectorises.
#ifdef TJ_HOST
#define TJ_HOST_COLS 256
template <typename Acc, typename I, typename Op, typename F, typename E>
TJ_DEV void tj_col_reduce(I n_rows, I n_cols, Acc init, Op op, F p, E e) {
    const tj_span<I> span = tj_grid_span(n_rows);
    for (I rt = span.begin; rt < span.end; rt += (I)TJ_HOST_COLS) {
        const I re = span.end - rt < (I)TJ_HOST_COLS ? span.end : rt + (I)TJ_HOST_COLS;
        Acc acc[TJ_HOST_COLS];
        for (I row = rt; row < re; ++row) acc[row - rt] = init;
        for (I j = 0; j < n_cols; ++j)
            for (I row = rt; row < re; ++row) acc[row - rt] = op(acc[row - rt], p(row, j));
        for (I row = rt; row < re; ++row) e(row, acc[row - rt]);
    }
}
#else
template <typename Acc, typename I, typename Op, typename F, typename E>
TJ_DEV void tj_col_reduce(I n_rows, I n_cols, Acc init, Op op, F p, E e) {
    const tj_span<I> span = tj_grid_span(n_rows);
    for (I row = span.begin; row < span.end; row += span.step) {
        Acc acc[4] = {init, init, init, init};
        I j = 0;
        for (; j + 4 <= n_cols; j += 4) {
            Acc x[4];
            TJ_UNROLL
            for (int u = 0; u < 4; ++u) x[u] = p(row, j + (I)u);
            TJ_UNROLL
            for (int u = 0; u < 4; ++u) acc[u] = op(acc[u], x[u]);
        }
        for (; j < n_cols; ++j) acc[0] = op(acc[0], p(row, j));
        e(row, op(op(acc[0], acc[1]), op(acc[2], acc[3])));
    }
}
#endif
