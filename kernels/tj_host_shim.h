// tj_host_shim.h: lets generated CUDA C compile as host C++ (g++), so CI runs the exact
// kernels the GPU would. A host "block" is one thread (blockDim is 1x1x1). A launch runs
// gridDim.x host blocks, each on its own host thread when the launcher
// (kernels/tj_pylaunch.cpp) splits a big kernel, else one block; blockIdx and gridDim are
// thread_local, set per block by the TJ_WRAP entry point, so concurrent launches from
// different threads never see each other's. Grid-stride loops take their indices from
// tj_grid_span / tj_block_span (tj_common.cuh), which on the host give each block one
// contiguous share. A block reduction is the identity (the single thread already holds
// its whole row or chunk); row kernels with a warp per row run several one-thread host
// warps per block in turn (tj_reduce.cuh). There is no shared memory on the host:
// `__shared__` would be a static shared by all host threads, so no host path uses it.
//
// The SIMT shim (tj_simt_shim.h, the GPU variant run as real threads of a block) includes
// this file for its plain built-ins (math, bit casts, qualifiers, argument unpacking) and
// defines TJ_SIMT, which leaves out the one-thread model (TJ_HOST, the constant
// threadIdx/blockDim, __shared__, __syncthreads, TJ_WRAP).
#pragma once
#ifndef TJ_SIMT
#define TJ_HOST 1
#endif
// No <cmath>: parsing it was most of a small module's compile (about 100 of 130 ms).
// The math functions kernels call are declared here as float and double overloads of
// GCC's builtins, which call the same libm functions <cmath> would.
//
// With TJ_HOST_MVEC (hostcc.py defines it where glibc's libmvec is installed, and links
// it), the functions libmvec has are declared `simd`: g++ then vectorises a loop that
// calls them, calling libmvec's 4- or 8-lane variants (_ZGVdN8v_expf ...) instead of
// the scalar function once per element. Measured on the bench's gelu_tanh over 2^20
// float32 (one thread, AVX2): 20.3 -> 1.05 ms. libmvec's float functions are within 4
// ulp of the correctly rounded result (glibc's documented bound; tests/test_host_math.py
// measures each against float64 and NumPy), so a kernel's transcendental may differ
// from NumPy's float32 result by a few ulp, and an element in a loop's scalar tail goes
// through the scalar function (also within glibc's bound) instead. Float tanh is the
// exception: an inline function below (tj_tanhf), the same bits in a loop's vector body
// and its tail.
#ifdef TJ_HOST_MVEC
#define TJ_SIMD __attribute__((__simd__("notinbranch")))
#else
#define TJ_SIMD
#endif
#define TJ_MATH_DECL1(name, attr) \
    extern "C" double name(double) noexcept attr; \
    extern "C" float name##f(float) noexcept attr; \
    static inline float name(float x) { return name##f(x); }
#define TJ_MATH_DECL2(name, attr) \
    extern "C" double name(double, double) noexcept attr; \
    extern "C" float name##f(float, float) noexcept attr; \
    static inline float name(float x, float y) { return name##f(x, y); }
#define TJ_MATH1(name) TJ_MATH_DECL1(name, )
#define TJ_MATH2(name) TJ_MATH_DECL2(name, )
#define TJ_MVEC1(name) TJ_MATH_DECL1(name, TJ_SIMD)
#define TJ_MVEC2(name) TJ_MATH_DECL2(name, TJ_SIMD)
TJ_MVEC1(exp) TJ_MVEC1(exp2) TJ_MVEC1(expm1) TJ_MVEC1(log) TJ_MVEC1(log2) TJ_MVEC1(log10)
TJ_MVEC1(log1p) TJ_MVEC1(cbrt) TJ_MVEC1(sin) TJ_MVEC1(cos) TJ_MVEC1(tan)
TJ_MVEC1(asin) TJ_MVEC1(acos) TJ_MVEC1(atan) TJ_MVEC1(sinh) TJ_MVEC1(cosh)
TJ_MVEC1(asinh) TJ_MVEC1(acosh) TJ_MVEC1(atanh) TJ_MVEC1(erf) TJ_MVEC1(erfc)
TJ_MVEC2(pow) TJ_MVEC2(atan2) TJ_MVEC2(hypot)
TJ_MATH1(sqrt) TJ_MATH1(lgamma) TJ_MATH1(tgamma) TJ_MATH1(floor) TJ_MATH1(ceil) TJ_MATH1(trunc)
TJ_MATH1(round) TJ_MATH1(rint) TJ_MATH1(fabs)
TJ_MATH2(fmod) TJ_MATH2(remainder) TJ_MATH2(nextafter)
TJ_MATH2(copysign) TJ_MATH2(fmin) TJ_MATH2(fmax)
extern "C" double fma(double, double, double) noexcept;
extern "C" float fmaf(float, float, float) noexcept;
static inline float fma(float x, float y, float z) { return fmaf(x, y, z); }
// float tanh, inline so that g++ vectorises it 8 lanes wide inside a kernel's loop in
// place of a call to libmvec's tanhf. With a = |x| and t = tanh(a / 2),
// tanh a = 2t / (1 + t^2): that step divides t's relative error by cosh a, so t needs
// full precision only for small a, and s = 2t = a + a v R(v) / Q(v), v = a^2, with R and
// Q of degree 2, fitted for minimax error weighted by 1 / cosh a (bench/fit_poly.py).
// bench/ulp_exhaustive.cpp checks every float32 input against float64 tanh rounded to
// float32: within 2 ulp, CUDA's documented bound for tanhf (0.02% of inputs are 2 ulp
// off, from the roundings of s and of 1 + t^2). It replaced an expm1-based tanh within
// 1 ulp that took twice as long (bench/results/2026-12-02-cpu-speed-4.md). No branches:
// g++ keeps a loop scalar when a ?: has arithmetic on either side, so |x| is clamped at
// 9.5 (tanh rounds to 1 from 9.02) by an integer min on the bits that keeps a NaN; the
// sign comes back by copysign, so -0 stays -0, and a denormal x comes out as x.
static inline unsigned int tj_bits(float f) { unsigned int u; __builtin_memcpy(&u, &f, 4); return u; }
static inline float tj_float(unsigned int u) { float f; __builtin_memcpy(&f, &u, 4); return f; }
static inline float tj_tanhf(float x) {
    unsigned int ai = tj_bits(x) & 0x7fffffffu;
    ai = (ai < 0x41180000u ? ai : 0x41180000u) | (ai & -(unsigned int)(ai > 0x7f800000u));
    float a = tj_float(ai);
    float v = a * a;
    float r = __builtin_fmaf(-0x1.2697c6p-24f, v, -0x1.fe37acp-11f);
    r = __builtin_fmaf(r, v, -0x1.555542p-4f);
    float q = __builtin_fmaf(0x1.132f6ep-10f, v, 0x1.c96decp-4f);
    q = __builtin_fmaf(q, v, 1.0f);
    float s = __builtin_fmaf(a * v, r / q, a);
    float d = __builtin_fmaf(0.25f * s, s, 1.0f);
    return __builtin_copysignf(s / d, x);
}
static inline float tanh(float x) { return tj_tanhf(x); }
extern "C" double tanh(double) noexcept TJ_SIMD;
extern "C" float tanhf(float) noexcept;
template <typename T> static inline bool isfinite(T x) { return __builtin_isfinite(x); }
template <typename T> static inline bool isnan(T x) { return __builtin_isnan(x); }
template <typename T> static inline bool isinf(T x) { return __builtin_isinf(x); }
template <typename T> static inline bool signbit(T x) { return __builtin_signbit(x); }
#define INFINITY (__builtin_inff())
#define NAN (__builtin_nanf(""))
#define memcpy __builtin_memcpy


struct tj_dim3 { unsigned int x, y, z; };
#ifndef TJ_SIMT
static const tj_dim3 threadIdx = {0, 0, 0};
static const tj_dim3 blockDim = {1, 1, 1};
static thread_local tj_dim3 blockIdx = {0, 0, 0};  // a direct call (ctypes) runs one block
static thread_local tj_dim3 gridDim = {1, 1, 1};
#define __shared__ static
static inline void __syncthreads() {}
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict

// Bit casts CUDA provides as intrinsics.
static inline unsigned int __float_as_uint(float f) { unsigned int u; memcpy(&u, &f, 4); return u; }
static inline float __uint_as_float(unsigned int u) { float f; memcpy(&f, &u, 4); return f; }
static inline long long __double_as_longlong(double d) { long long u; memcpy(&u, &d, 8); return u; }
static inline double __longlong_as_double(long long u) { double d; memcpy(&d, &u, 8); return d; }

// CUDA math functions with no C++ standard counterpart.
static inline float rsqrt(float x) { return 1.0f / sqrt(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }

static inline double tj_host_erfinv(double x) {
    // Giles' single-precision approximation, refined by Newton steps on erf.
    if (x <= -1.0) return x == -1.0 ? -INFINITY : NAN;
    if (x >= 1.0) return x == 1.0 ? INFINITY : NAN;
    if (x != x) return x;
    double w = -log((1.0 - x) * (1.0 + x)), p;
    if (w < 5.0) {
        w -= 2.5;
        p = 2.81022636e-08;
        p = 3.43273939e-07 + p * w; p = -3.5233877e-06 + p * w; p = -4.39150654e-06 + p * w;
        p = 0.00021858087 + p * w; p = -0.00125372503 + p * w; p = -0.00417768164 + p * w;
        p = 0.246640727 + p * w; p = 1.50140941 + p * w;
    } else {
        w = sqrt(w) - 3.0;
        p = -0.000200214257;
        p = 0.000100950558 + p * w; p = 0.00134934322 + p * w; p = -0.00367342844 + p * w;
        p = 0.00573950773 + p * w; p = -0.0076224613 + p * w; p = 0.00943887047 + p * w;
        p = 1.00167406 + p * w; p = 2.83297682 + p * w;
    }
    double y = p * x;
    for (int k = 0; k < 2; ++k)
        y -= (erf(y) - x) / (1.1283791670955126 * exp(-y * y));
    return y;
}
static inline float erfinv(float x) { return (float)tj_host_erfinv((double)x); }
static inline double erfinv(double x) { return tj_host_erfinv(x); }

// TJ_WRAP(k) defines tjw_k(void** pointers, const long long* scalars, int block, int blocks),
// which runs block `block` of `blocks` of kernel k with its pointer parameters from
// `pointers` and its integer parameters (which follow them) from `scalars`: one C
// signature through which kernels/tj_pylaunch.cpp calls any kernel, from any thread.
#include <type_traits>
#include <utility>
template <typename... A> constexpr int tj_pointer_count() {
    return (0 + ... + (std::is_pointer<A>::value ? 1 : 0));
}
template <typename T> static inline T tj_wrap_arg(void** p, const long long* s, int i, int np) {
    if constexpr (std::is_pointer<T>::value) return (T)p[i];
    else return (T)s[i - np];
}
template <typename... A, std::size_t... I>
static inline void tj_wrap_call(void (*f)(A...), void** p, const long long* s,
                                std::index_sequence<I...>) {
    f(tj_wrap_arg<A>(p, s, (int)I, tj_pointer_count<A...>())...);
}
template <typename... A> static inline void tj_wrap_call(void (*f)(A...), void** p,
                                                         const long long* s) {
    tj_wrap_call(f, p, s, std::index_sequence_for<A...>{});
}
#ifndef TJ_SIMT
#define TJ_WRAP(k)                                                                     \
    extern "C" void tjw_##k(void** p, const long long* s, int block, int blocks) {     \
        blockIdx.x = (unsigned int)block;                                              \
        gridDim.x = (unsigned int)blocks;                                              \
        tj_wrap_call(k, p, s);                                                         \
        blockIdx.x = 0;                                                                \
        gridDim.x = 1;                                                                 \
    }
#endif
