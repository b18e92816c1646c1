// tj_common.cuh: helpers that generated kernels use. Header-free on purpose: NVRTC finds
// no CUDA headers by itself, and the same text compiles as host C++ under
// tj_host_shim.h. The `tj_*` names are the ones the primitives' lowerings
// (tinyjax/ops/*.py, `.lowering`) refer to; their semantics follow the NumPy rules of
// those primitives, which are the reference the tests compare with.
#pragma once

#ifdef TJ_HOST
#define TJ_DEV static inline
#define TJ_METHOD inline
#else
#define TJ_DEV __device__ __forceinline__
#define TJ_METHOD __device__ __forceinline__
#endif

template <typename T> struct tj_is_float { static const bool value = false; };
template <> struct tj_is_float<float> { static const bool value = true; };
template <> struct tj_is_float<double> { static const bool value = true; };

template <typename A, typename B> struct tj_same { static const bool value = false; };
template <typename A> struct tj_same<A, A> { static const bool value = true; };

template <typename T> struct tj_is_signed { static const bool value = (T)(-1) < (T)0; };

template <typename T> struct tj_unsigned { typedef T type; };
template <> struct tj_unsigned<signed char> { typedef unsigned char type; };
template <> struct tj_unsigned<short> { typedef unsigned short type; };
template <> struct tj_unsigned<int> { typedef unsigned int type; };
template <> struct tj_unsigned<long long> { typedef unsigned long long type; };

// --- float16 / bfloat16: stored as 16-bit patterns, computed in float --------------
// Conversions round to nearest even, like NumPy and ml_dtypes.
TJ_DEV float tj_h2f(unsigned short h) {
    unsigned int sign = ((unsigned int)h & 0x8000u) << 16;
    unsigned int e = ((unsigned int)h >> 10) & 0x1fu, m = (unsigned int)h & 0x3ffu;
    if (e == 0) {
        float f = (float)m * 5.9604644775390625e-08f;  // m * 2^-24: subnormal or zero
        return sign ? -f : f;
    }
    if (e == 31) return __uint_as_float(sign | 0x7f800000u | (m << 13));
    return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
}

TJ_DEV unsigned short tj_f2h(float f) {
    unsigned int x = __float_as_uint(f);
    unsigned int sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)  // inf or nan (keep nan quiet)
        return (unsigned short)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
    if (ax >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);  // rounds past 65504
    if (ax < 0x38800000u) {  // below the smallest normal half: scale to units of 2^-24
        unsigned int m = (unsigned int)rintf(__uint_as_float(ax) * 16777216.0f);
        return (unsigned short)(sign | m);
    }
    unsigned int h = (((ax >> 23) - 112u) << 10) | ((ax & 0x7fffffu) >> 13);
    unsigned int rest = ax & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h += 1u;  // carry may bump exponent
    return (unsigned short)(sign | h);
}

TJ_DEV float tj_bf2f(unsigned short b) { return __uint_as_float((unsigned int)b << 16); }

TJ_DEV unsigned short tj_f2bf(float f) {
    unsigned int x = __float_as_uint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((x >> 16) | 0x40u);
    return (unsigned short)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

// An intermediate of a float16/bfloat16 op is rounded to its type, as NumPy does.
TJ_DEV float tj_rnd_h(float f) { return tj_h2f(tj_f2h(f)); }
TJ_DEV float tj_rnd_bf(float f) { return tj_bf2f(tj_f2bf(f)); }

TJ_DEV float tj_f32_bits(unsigned int u) { return __uint_as_float(u); }
TJ_DEV double tj_f64_bits(unsigned long long u) { return __longlong_as_double((long long)u); }

// Float to integer saturates and maps NaN to 0 (XLA's rule; C's cast is undefined there).
template <typename T, typename F> TJ_DEV T tj_f2i(F x, T lo, T hi) {
    if (x != x) return (T)0;
    if (x <= (F)lo) return lo;
    if (x >= (F)hi) return hi;
    return (T)x;
}

// --- the helpers named by the primitives' lowerings --------------------------------
template <typename T> TJ_DEV T tj_round(T x, int method) {
    return method == 1 ? rint(x) : round(x);  // 1: half to even, 0: half away from zero
}

template <typename T> TJ_DEV T tj_logistic(T x) { return (T)1 / ((T)1 + exp(-x)); }

template <typename T> TJ_DEV T tj_abs(T x) { return x < (T)0 ? (T)(-x) : x; }
TJ_DEV float tj_abs(float x) { return fabsf(x); }
TJ_DEV double tj_abs(double x) { return fabs(x); }

template <typename T> TJ_DEV T tj_not(T x) { return (T)(~x); }

// Leading zeros and set bits of an integer, counted in its own width (lax.clz,
// lax.population_count); the result has the operand's type.
template <typename T> TJ_DEV T tj_clz(T x) {
    const int bits = 8 * (int)sizeof(T);
#ifdef TJ_HOST
    const unsigned long long u = (unsigned long long)(typename tj_unsigned<T>::type)x;
    return (T)(u == 0 ? bits : __builtin_clzll(u) - (64 - bits));
#else
    if (bits == 64) return (T)__clzll((long long)x);
    const unsigned int u = (unsigned int)(typename tj_unsigned<T>::type)x;
    return (T)(__clz((int)u) - (32 - bits));
#endif
}
template <typename T> TJ_DEV T tj_popcount(T x) {
    const unsigned long long u = (unsigned long long)(typename tj_unsigned<T>::type)x;
#ifdef TJ_HOST
    return (T)__builtin_popcountll(u);
#else
    return (T)__popcll(u);
#endif
}
TJ_DEV bool tj_not(bool x) { return !x; }

// x ** Y for a constant Y (lax.integer_pow), by repeated squaring: bit k of |Y| set
// multiplies the result by x ** (2 ** k). The exponent is a template argument so that the
// squarings unroll at compile time: a loop over Y's bits, even a constant Y's, kept g++
// from vectorising the loop around it (x ** 2 over 2^20 float32: 3x the time of x * x,
// and 7x inside a sum).
template <unsigned int E, typename T> TJ_DEV T tj_ipow_bits(T acc, T b) {
    if constexpr (E == 0u) return acc;
    else return tj_ipow_bits<(E >> 1)>((E & 1u) ? (T)(acc * b) : acc, (T)(b * b));
}
template <int Y, typename T> TJ_DEV T tj_ipow(T x) {
    const T acc = tj_ipow_bits<(Y < 0 ? 0u - (unsigned int)Y : (unsigned int)Y)>((T)1, x);
    if constexpr (Y >= 0) return acc;
    else if constexpr (tj_is_float<T>::value) return (T)1 / acc;
    else return acc == (T)0 ? (T)0 : (T)(1.0 / (double)acc);  // NumPy: 1 / x**-y, truncated
}

// Integer division truncates toward zero; x / 0 is -1 (XLA); INT_MIN / -1 wraps.
template <typename T> TJ_DEV T tj_div(T x, T y) {
    if (tj_is_float<T>::value) return x / y;
    if (y == (T)0) return (T)(-1);
    if (tj_is_signed<T>::value && y == (T)(-1))
        return (T)((typename tj_unsigned<T>::type)0 - (typename tj_unsigned<T>::type)x);
    return (T)(x / y);
}
TJ_DEV float tj_div(float x, float y) { return x / y; }
TJ_DEV double tj_div(double x, double y) { return x / y; }

// Remainder has the dividend's sign (C fmod); x rem 0 is x.
template <typename T> TJ_DEV T tj_rem(T x, T y) {
    if (y == (T)0) return x;
    if (tj_is_signed<T>::value && y == (T)(-1)) return (T)0;
    return (T)(x % y);
}
TJ_DEV float tj_rem(float x, float y) { return fmodf(x, y); }
TJ_DEV double tj_rem(double x, double y) { return fmod(x, y); }

// c ? a : b. On the host, the bits of a and b under a mask: no branch for g++ to thread.
// Written as `?:`, a select that the loop also compares against elsewhere (the gradient
// of jnp.maximum(x, 0): x == max(x, 0) and 0 == max(x, 0)) was turned by PRE into
// control flow, and the loop stayed scalar with a mispredicted branch per element: grad
// of sum(maximum(x, 0) * x) over 2^20 floats took 4.7 ms, vectorised 0.20 ms. The GPU
// (and the SIMT variant) select with predication anyway.
#ifdef TJ_HOST
template <int N> struct tj_bits_of {};
template <> struct tj_bits_of<1> { typedef unsigned char t; };
template <> struct tj_bits_of<2> { typedef unsigned short t; };
template <> struct tj_bits_of<4> { typedef unsigned int t; };
template <> struct tj_bits_of<8> { typedef unsigned long long t; };
template <typename T> TJ_DEV T tj_select(bool c, T a, T b) {
    typedef typename tj_bits_of<sizeof(T)>::t U;
    U ua, ub;
    memcpy(&ua, &a, sizeof(T));
    memcpy(&ub, &b, sizeof(T));
    const U m = (U)((U)0 - (U)c);
    const U r = (U)((ua & m) | (ub & (U)~m));
    T out;
    memcpy(&out, &r, sizeof(T));
    return out;
}
#else
template <typename T> TJ_DEV T tj_select(bool c, T a, T b) { return c ? a : b; }
#endif

// max/min propagate NaN, like NumPy's maximum/minimum (b on a tie). Compares and a
// select, no branch: a reduction's load is not held behind a NaN test, and g++
// vectorises the fold into compares and blends.
template <typename T> TJ_DEV T tj_max(T a, T b) {
    return tj_select<T>((a > b) | (tj_is_float<T>::value & (a != a)), a, b);
}
template <typename T> TJ_DEV T tj_min(T a, T b) {
    return tj_select<T>((a < b) | (tj_is_float<T>::value & (a != a)), a, b);
}

// -1 or 1; x itself for 0, -0 and NaN, as XLA's sign keeps -0 (NumPy's gives +0). A
// select, not a branch, which kept g++'s loop around it scalar.
template <typename T> TJ_DEV T tj_sign(T x) {
    return tj_select<T>((x == (T)0) | (tj_is_float<T>::value & (x != x)), x,
                        (T)((x > (T)0) - (x < (T)0)));
}

// Shifts by a negative amount or by >= the bit width give 0 (or the sign, arithmetic).
template <typename T> TJ_DEV T tj_shl(T x, T y) {
    if (y < (T)0 || (long long)y >= (long long)(sizeof(T) * 8)) return (T)0;
    return (T)((typename tj_unsigned<T>::type)x << (int)y);
}
template <typename T> TJ_DEV T tj_sra(T x, T y) {
    if (y < (T)0 || (long long)y >= (long long)(sizeof(T) * 8)) return x < (T)0 ? (T)(-1) : (T)0;
    return (T)(x >> (int)y);
}
template <typename T> TJ_DEV T tj_srl(T x, T y) {
    if (y < (T)0 || (long long)y >= (long long)(sizeof(T) * 8)) return (T)0;
    return (T)((typename tj_unsigned<T>::type)x >> (int)y);
}

template <typename I> TJ_DEV I tj_clampi(I x, I lo, I hi) { return x < lo ? lo : (x > hi ? hi : x); }

// --- vectors: N consecutive elements moved as one load or store --------------------
// Loop kernels use them when every buffer they read or write at their own index is
// aligned to the vector's size (capped at 16 bytes, the widest single load).
#ifdef TJ_HOST
#define TJ_UNROLL
#else
#define TJ_UNROLL _Pragma("unroll")
#endif
template <typename T, int N> struct alignas(sizeof(T) * N > 16 ? 16 : sizeof(T) * N) tj_vec {
    T v[N];
};
template <int N, typename T> TJ_DEV bool tj_aligned(const T* p) {
    const unsigned long long a = sizeof(T) * N > 16 ? 16 : sizeof(T) * N;
    return ((unsigned long long)p & (a - 1)) == 0;
}
template <int N, typename T, typename I> TJ_DEV tj_vec<T, N> tj_vec_load(const T* p, I v) {
    return reinterpret_cast<const tj_vec<T, N>*>(p)[v];
}
template <int N, typename T, typename I> TJ_DEV void tj_vec_store(T* p, I v, const tj_vec<T, N>& x) {
    reinterpret_cast<tj_vec<T, N>*>(p)[v] = x;
}

// --- grid-stride loops ------------------------------------------------------------
// The indices of [0, n) a thread (tj_grid_span) or a block (tj_block_span) walks:
// `for (I i = s.begin; i < s.end; i += s.step)`. On the GPU the usual interleaved
// grid-stride loop. On the host a block is one thread, and a launch split over host
// threads runs one block per thread (tj_host_shim.h): each takes one contiguous share
// of about n / gridDim.x, so threads never write into each other's cache lines.
template <typename I> struct tj_span { I begin, end, step; };
#ifdef TJ_HOST
// A share is a whole number of TJ_HOST_GROUP elements, so an element falls in the same
// place of a vectorised loop (the 8-lane body, or the tail after the last whole group of
// the array) however many threads split the launch: a math call's vector variant and its
// scalar one may differ in the last bit, and results must not depend on the thread count.
#define TJ_HOST_GROUP 16
template <typename I> TJ_DEV tj_span<I> tj_host_share(I n) {
    const I even = (n + (I)gridDim.x - 1) / (I)gridDim.x;
    const I share = (even + (I)TJ_HOST_GROUP - 1) / (I)TJ_HOST_GROUP * (I)TJ_HOST_GROUP;
    const I begin = share * (I)blockIdx.x;
    if (begin >= n) return {n, n, (I)1};
    return {begin, n - begin > share ? begin + share : n, (I)1};
}
template <typename I> TJ_DEV tj_span<I> tj_grid_span(I n) { return tj_host_share(n); }
template <typename I> TJ_DEV tj_span<I> tj_block_span(I n) { return tj_host_share(n); }
// A loop kernel's host share of [0, n) walked as rows of `cols` elements: row(r, jb, je)
// for each row r the share touches, with its columns [jb, je) (codegen._host_rows).
template <typename I, typename F> TJ_DEV void tj_host_rows(I n, I cols, F row) {
    const tj_span<I> s = tj_grid_span(n);
    const I r_end = s.begin < s.end ? (s.end - 1) / cols + 1 : 0;   // no overflow past n
    for (I r = s.begin / cols; r < r_end; ++r) {
        const I base = r * cols;
        row(r, base > s.begin ? (I)0 : s.begin - base, s.end - base < cols ? s.end - base : cols);
    }
}
#else
template <typename I> TJ_DEV tj_span<I> tj_grid_span(I n) {
    return {(I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x, n, (I)blockDim.x * (I)gridDim.x};
}
template <typename I> TJ_DEV tj_span<I> tj_block_span(I n) {
    return {(I)blockIdx.x, n, (I)gridDim.x};
}
#endif
