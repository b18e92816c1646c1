// tj_random.cuh: the device side of tinyjax's random numbers (tinyjax/ops/random_bits.py).
//
// tj_threefry2x32: the Threefry-2x32 hash with 20 rounds, bit-identical to the NumPy rule
// of the `threefry2x32` primitive and to JAX. Counter-based: every output element is a
// pure function of (key, counter), so a fused kernel computes it at its own index with
// no state and no communication.
//
// tj_bitcast_to_<dtype>: the `bitcast_convert_type` lowering. The argument has the
// kernel's compute type of the source dtype; float16/bfloat16 results come back widened
// to float (the compute type of halves).
//
// Header-free like tj_common.cuh, so it builds under NVRTC and, after tj_host_shim.h,
// as host C++.
#pragma once
#include "tj_common.cuh"

TJ_DEV unsigned int tj_rotl32(unsigned int x, int r) { return (x << r) | (x >> (32 - r)); }

TJ_DEV void tj_threefry2x32(unsigned int k1, unsigned int k2, unsigned int x1,
                            unsigned int x2, unsigned int* y1, unsigned int* y2) {
    const unsigned int ks[3] = {k1, k2, k1 ^ k2 ^ 0x1BD11BDAu};
    const int rot[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
    unsigned int a = x1 + ks[0], b = x2 + ks[1];
#pragma unroll
    for (int i = 0; i < 5; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            a += b;
            b = tj_rotl32(b, rot[i & 1][j]);
            b ^= a;
        }
        a += ks[(i + 1) % 3];
        b += ks[(i + 2) % 3] + (unsigned int)(i + 1);
    }
    *y1 = a;
    *y2 = b;
}

// Single-result forms for expression-based codegen.
TJ_DEV unsigned int tj_threefry2x32_y1(unsigned int k1, unsigned int k2, unsigned int x1,
                                       unsigned int x2) {
    unsigned int a, b;
    tj_threefry2x32(k1, k2, x1, x2, &a, &b);
    return a;
}

TJ_DEV unsigned int tj_threefry2x32_y2(unsigned int k1, unsigned int k2, unsigned int x1,
                                       unsigned int x2) {
    unsigned int a, b;
    tj_threefry2x32(k1, k2, x1, x2, &a, &b);
    return b;
}

// --- bitcast_convert_type ------------------------------------------------------------
TJ_DEV float tj_bitcast_to_float32(unsigned int u) { return __uint_as_float(u); }
TJ_DEV float tj_bitcast_to_float32(int u) { return __uint_as_float((unsigned int)u); }
TJ_DEV unsigned int tj_bitcast_to_uint32(float f) { return __float_as_uint(f); }
TJ_DEV int tj_bitcast_to_int32(float f) { return (int)__float_as_uint(f); }
TJ_DEV double tj_bitcast_to_float64(unsigned long long u) {
    return __longlong_as_double((long long)u);
}
TJ_DEV double tj_bitcast_to_float64(long long u) { return __longlong_as_double(u); }
TJ_DEV unsigned long long tj_bitcast_to_uint64(double d) {
    return (unsigned long long)__double_as_longlong(d);
}
TJ_DEV long long tj_bitcast_to_int64(double d) { return __double_as_longlong(d); }
TJ_DEV float tj_bitcast_to_float16(unsigned short h) { return tj_h2f(h); }
TJ_DEV float tj_bitcast_to_float16(short h) { return tj_h2f((unsigned short)h); }
TJ_DEV float tj_bitcast_to_bfloat16(unsigned short h) { return tj_bf2f(h); }
TJ_DEV float tj_bitcast_to_bfloat16(short h) { return tj_bf2f((unsigned short)h); }
