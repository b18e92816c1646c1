// tj_simt_shim.h: lets the GPU variant of generated CUDA C (the source NVRTC compiles, with
// TJ_HOST undefined) build as host C++ and run as real threads of a block on the SIMT
// runtime (kernels/tj_simt_runtime.cpp, which says how). It takes the plain built-ins
// (math, bit casts, qualifiers, the uniform entry point's argument unpacking) from
// tj_host_shim.h, which leaves out its one-thread model under TJ_SIMT, and maps the rest:
//
//  - threadIdx, blockIdx, blockDim, gridDim: calls into the runtime, declared `const`:
//    the value never changes within one thread's activation of a function, so the
//    compiler may keep it in a register;
//  - __syncthreads and the warp intrinsics (__shfl*_sync, __ballot/__any/__all_sync,
//    __syncwarp, __reduce_*_sync): calls that suspend the calling thread until its block
//    or the lanes of its mask arrive (the source line goes along for error messages);
//  - __shared__: `static thread_local`: a host thread runs one block at a time, so its
//    copy is that block's shared memory (dynamic `extern __shared__` is not supported);
//  - atomics: runtime calls that check the address and use the host's atomics.
#pragma once
#define TJ_SIMT 1
#include "tj_host_shim.h"

extern "C" {
tj_dim3 tj_simt_thread_idx() __attribute__((const));
tj_dim3 tj_simt_block_idx() __attribute__((const));
tj_dim3 tj_simt_block_dim() __attribute__((const));
tj_dim3 tj_simt_grid_dim() __attribute__((const));
void tj_simt_barrier(int line);
unsigned long long tj_simt_warp(int op, int line, unsigned int mask, unsigned long long value,
                                int arg, int width);
unsigned int tj_simt_activemask();
unsigned long long tj_simt_atomic(int op, int type, void* p, unsigned long long value,
                                  unsigned long long compare);
void tj_simt_fence();
}

#define threadIdx (tj_simt_thread_idx())
#define blockIdx (tj_simt_block_idx())
#define blockDim (tj_simt_block_dim())
#define gridDim (tj_simt_grid_dim())
#define warpSize 32
#define __shared__ static thread_local
#define __launch_bounds__(...)
#define __syncthreads() tj_simt_barrier(__LINE__)
#define __threadfence() tj_simt_fence()
#define __threadfence_block() tj_simt_fence()
#define __activemask() tj_simt_activemask()

// Warp operations, numbered as in the runtime.
enum { TJ_SHFL_IDX, TJ_SHFL_UP, TJ_SHFL_DOWN, TJ_SHFL_XOR, TJ_BALLOT, TJ_ANY, TJ_ALL,
       TJ_SYNCWARP, TJ_RED_ADD, TJ_RED_MIN, TJ_RED_MAX, TJ_RED_AND, TJ_RED_OR, TJ_RED_XOR,
       TJ_RED_MIN_S, TJ_RED_MAX_S };

template <typename T> static inline T tj_simt_shfl(int op, int line, unsigned int mask, T v,
                                                   int arg, int width) {
    static_assert(sizeof(T) <= 8, "a shuffled value has at most 8 bytes");
    unsigned long long bits = 0;
    memcpy(&bits, &v, sizeof(T));
    bits = tj_simt_warp(op, line, mask, bits, arg, width);
    memcpy(&v, &bits, sizeof(T));
    return v;
}
#define TJ_SIMT_SHFL(name, op) \
    template <typename T> static inline T name(int line, unsigned int mask, T v, int arg, \
                                               int width = 32) { \
        return tj_simt_shfl(op, line, mask, v, arg, width); \
    }
TJ_SIMT_SHFL(tj_simt_shfl_idx, TJ_SHFL_IDX)
TJ_SIMT_SHFL(tj_simt_shfl_up, TJ_SHFL_UP)
TJ_SIMT_SHFL(tj_simt_shfl_down, TJ_SHFL_DOWN)
TJ_SIMT_SHFL(tj_simt_shfl_xor, TJ_SHFL_XOR)
#define __shfl_sync(...) tj_simt_shfl_idx(__LINE__, __VA_ARGS__)
#define __shfl_up_sync(...) tj_simt_shfl_up(__LINE__, __VA_ARGS__)
#define __shfl_down_sync(...) tj_simt_shfl_down(__LINE__, __VA_ARGS__)
#define __shfl_xor_sync(...) tj_simt_shfl_xor(__LINE__, __VA_ARGS__)
#define __ballot_sync(mask, p) ((unsigned int)tj_simt_warp(TJ_BALLOT, __LINE__, mask, (p) != 0, 0, 32))
#define __any_sync(mask, p) ((int)tj_simt_warp(TJ_ANY, __LINE__, mask, (p) != 0, 0, 32))
#define __all_sync(mask, p) ((int)tj_simt_warp(TJ_ALL, __LINE__, mask, (p) != 0, 0, 32))
struct tj_simt_syncwarp {     // __syncwarp() and __syncwarp(mask), with the caller's line
    int line;
    void operator()(unsigned int mask = 0xffffffffu) const {
        tj_simt_warp(TJ_SYNCWARP, line, mask, 0, 0, 32);
    }
};
#define __syncwarp(...) tj_simt_syncwarp{__LINE__}(__VA_ARGS__)
#define TJ_SIMT_REDUCE(name, op, T) \
    static inline T name(int line, unsigned int mask, T v) { \
        return (T)tj_simt_warp(op, line, mask, (unsigned int)v, 0, 32); \
    }
TJ_SIMT_REDUCE(tj_simt_reduce_add, TJ_RED_ADD, unsigned int)
TJ_SIMT_REDUCE(tj_simt_reduce_add, TJ_RED_ADD, int)
TJ_SIMT_REDUCE(tj_simt_reduce_min, TJ_RED_MIN, unsigned int)
TJ_SIMT_REDUCE(tj_simt_reduce_min, TJ_RED_MIN_S, int)
TJ_SIMT_REDUCE(tj_simt_reduce_max, TJ_RED_MAX, unsigned int)
TJ_SIMT_REDUCE(tj_simt_reduce_max, TJ_RED_MAX_S, int)
TJ_SIMT_REDUCE(tj_simt_reduce_and, TJ_RED_AND, unsigned int)
TJ_SIMT_REDUCE(tj_simt_reduce_or, TJ_RED_OR, unsigned int)
TJ_SIMT_REDUCE(tj_simt_reduce_xor, TJ_RED_XOR, unsigned int)
#define __reduce_add_sync(...) tj_simt_reduce_add(__LINE__, __VA_ARGS__)
#define __reduce_min_sync(...) tj_simt_reduce_min(__LINE__, __VA_ARGS__)
#define __reduce_max_sync(...) tj_simt_reduce_max(__LINE__, __VA_ARGS__)
#define __reduce_and_sync(...) tj_simt_reduce_and(__LINE__, __VA_ARGS__)
#define __reduce_or_sync(...) tj_simt_reduce_or(__LINE__, __VA_ARGS__)
#define __reduce_xor_sync(...) tj_simt_reduce_xor(__LINE__, __VA_ARGS__)

// Atomics: (operation, type) numbered as in the runtime; each returns the old value.
template <typename T> struct tj_simt_atomic_type;
template <> struct tj_simt_atomic_type<int> { static const int id = 0; };
template <> struct tj_simt_atomic_type<unsigned int> { static const int id = 1; };
template <> struct tj_simt_atomic_type<long long> { static const int id = 2; };
template <> struct tj_simt_atomic_type<unsigned long long> { static const int id = 3; };
template <> struct tj_simt_atomic_type<float> { static const int id = 4; };
template <> struct tj_simt_atomic_type<double> { static const int id = 5; };
template <typename T> static inline T tj_simt_atomic_op(int op, T* p, T v, T cmp = T()) {
    unsigned long long bv = 0, bc = 0;
    memcpy(&bv, &v, sizeof(T));
    memcpy(&bc, &cmp, sizeof(T));
    const unsigned long long old = tj_simt_atomic(op, tj_simt_atomic_type<T>::id, (void*)p, bv, bc);
    T r;
    memcpy(&r, &old, sizeof(T));
    return r;
}
template <typename T> static inline T atomicAdd(T* p, T v) { return tj_simt_atomic_op(0, p, v); }
template <typename T> static inline T atomicSub(T* p, T v) { return tj_simt_atomic_op(9, p, v); }
template <typename T> static inline T atomicMin(T* p, T v) { return tj_simt_atomic_op(1, p, v); }
template <typename T> static inline T atomicMax(T* p, T v) { return tj_simt_atomic_op(2, p, v); }
template <typename T> static inline T atomicExch(T* p, T v) { return tj_simt_atomic_op(3, p, v); }
template <typename T> static inline T atomicCAS(T* p, T cmp, T v) { return tj_simt_atomic_op(4, p, v, cmp); }
template <typename T> static inline T atomicAnd(T* p, T v) { return tj_simt_atomic_op(5, p, v); }
template <typename T> static inline T atomicOr(T* p, T v) { return tj_simt_atomic_op(6, p, v); }
template <typename T> static inline T atomicXor(T* p, T v) { return tj_simt_atomic_op(7, p, v); }

// Device-only integer intrinsics the GPU variant uses where the host variant has builtins.
static inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned int)x); }
static inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
static inline int __popc(unsigned int x) { return __builtin_popcount(x); }
static inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline int __ffsll(long long x) { return __builtin_ffsll(x); }
static inline unsigned int __brev(unsigned int x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    return __builtin_bswap32(x);
}
// Cache-hinted loads and stores are plain accesses.
template <typename T> static inline T __ldg(const T* p) { return *p; }
template <typename T> static inline T __ldcs(const T* p) { return *p; }
template <typename T> static inline T __ldcg(const T* p) { return *p; }
template <typename T> static inline T __ldca(const T* p) { return *p; }
template <typename T> static inline T __ldlu(const T* p) { return *p; }
template <typename T> static inline void __stcs(T* p, T v) { *p = v; }
template <typename T> static inline void __stcg(T* p, T v) { *p = v; }
template <typename T> static inline void __stwb(T* p, T v) { *p = v; }
static inline float __fdividef(float a, float b) { return a / b; }
static inline float __expf(float x) { return expf(x); }
static inline float __logf(float x) { return logf(x); }
static inline float __sinf(float x) { return sinf(x); }
static inline float __cosf(float x) { return cosf(x); }
static inline float __powf(float a, float b) { return powf(a, b); }
static inline float __frcp_rn(float x) { return 1.0f / x; }
static inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
static inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
static inline float __fmaf_rn(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
static inline double __fma_rn(double a, double b, double c) { return __builtin_fma(a, b, c); }
// CUDA's integer and float min/max overloads.
#define TJ_SIMT_MINMAX(T) \
    static inline T min(T a, T b) { return a < b ? a : b; } \
    static inline T max(T a, T b) { return a > b ? a : b; }
TJ_SIMT_MINMAX(int) TJ_SIMT_MINMAX(unsigned int) TJ_SIMT_MINMAX(long long)
TJ_SIMT_MINMAX(unsigned long long)
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }
static inline double min(double a, double b) { return fmin(a, b); }
static inline double max(double a, double b) { return fmax(a, b); }

// CUDA's built-in vector types, with the GPU's alignment.
#define TJ_SIMT_VEC2(T, n, al) struct alignas(al) n##2 { T x, y; }; \
    static inline n##2 make_##n##2(T x, T y) { return n##2{x, y}; }
#define TJ_SIMT_VEC4(T, n, al) struct alignas(al) n##4 { T x, y, z, w; }; \
    static inline n##4 make_##n##4(T x, T y, T z, T w) { return n##4{x, y, z, w}; }
TJ_SIMT_VEC2(float, float, 8) TJ_SIMT_VEC4(float, float, 16)
TJ_SIMT_VEC2(int, int, 8) TJ_SIMT_VEC4(int, int, 16)
TJ_SIMT_VEC2(unsigned int, uint, 8) TJ_SIMT_VEC4(unsigned int, uint, 16)
TJ_SIMT_VEC2(double, double, 16) TJ_SIMT_VEC2(long long, longlong, 16)
TJ_SIMT_VEC2(unsigned long long, ulonglong, 16)
TJ_SIMT_VEC2(unsigned short, ushort, 4) TJ_SIMT_VEC4(unsigned short, ushort, 8)
TJ_SIMT_VEC2(short, short, 4) TJ_SIMT_VEC4(short, short, 8)
TJ_SIMT_VEC2(unsigned char, uchar, 2) TJ_SIMT_VEC4(unsigned char, uchar, 4)
TJ_SIMT_VEC2(signed char, char, 2) TJ_SIMT_VEC4(signed char, char, 4)

// The uniform entry point (see tj_host_shim.h); the runtime runs it in every thread of
// every block. tj_simt_touch_shared makes a host thread allocate its copy of the
// module's thread-local segment (the block's shared memory) before the runtime looks it up.
// The module is built with hidden symbols (hostcc.py says why): these two are its exports.
#define TJ_SIMT_EXPORT extern "C" __attribute__((visibility("default")))
#define TJ_WRAP(k) \
    TJ_SIMT_EXPORT void tjw_##k(void** p, const long long* s, int, int) { tj_wrap_call(k, p, s); }
static thread_local char tj_simt_anchor;
TJ_SIMT_EXPORT void* tj_simt_touch_shared() { return &tj_simt_anchor; }
