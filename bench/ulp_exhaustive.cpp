// Every float32 input through the host kernels' inline math (kernels/tj_host_shim.h),
// against the float64 libm result rounded to float32. Prints the largest distance in
// ulps and the first input where it occurs, a histogram of the distances, and checks
// that the vectorised loop and a scalar call agree bit for bit (a loop's tail elements
// take the scalar path). Built and run by bench/ulp_exhaustive.py with the kernels' flags.
//     ulp_exhaustive FUNCTION [THREADS]      FUNCTION: tanh
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>
#include "../kernels/tj_host_shim.h"  // after the standard headers: it defines memcpy

struct Fn {
    const char* name;
    void (*vec)(const float*, float*, int);
    float (*scalar)(float);
    double (*ref)(double);
};

static void tanh_vec(const float* x, float* y, int n) {
    for (int i = 0; i < n; ++i) y[i] = tj_tanhf(x[i]);
}
__attribute__((noinline, optimize("no-tree-vectorize"))) static float tanh_scalar(float x) {
    return tj_tanhf(x);
}
static double tanh_ref(double x) { return tanh(x); }

static const Fn FNS[] = {{"tanh", tanh_vec, tanh_scalar, tanh_ref}};

static long long ordered(float f) {
    int i;
    memcpy(&i, &f, 4);
    return i < 0 ? -(long long)(i & 0x7fffffff) : (long long)i;
}
static long long ulps(float got, float want) {
    if (got != got || want != want) return (got != got && want != want) ? 0 : 1LL << 40;
    long long d = ordered(got) - ordered(want);
    return d < 0 ? -d : d;
}

struct Tally {
    long long worst = -1;
    unsigned worst_at = 0;
    long long hist[4] = {0, 0, 0, 0};  // 0, 1, 2, more ulps
    long long scalar_mismatch = 0;
};

static void run(const Fn& f, unsigned long long lo, unsigned long long hi, Tally* t) {
    const int N = 1 << 14;
    std::vector<float> x(N), y(N);
    for (unsigned long long base = lo; base < hi; base += N) {
        for (int i = 0; i < N; ++i) {
            unsigned u = (unsigned)(base + i);
            memcpy(&x[i], &u, 4);
        }
        f.vec(x.data(), y.data(), N);
        for (int i = 0; i < N; ++i) {
            float want = (float)f.ref((double)x[i]);
            long long d = ulps(y[i], want);
            // -0 and +0 are 0 ulps apart: the sign of a zero is checked on its own.
            if (y[i] == 0 && want == 0 && __builtin_signbit(y[i]) != __builtin_signbit(want))
                d = 1LL << 40;
            if (d > t->worst) t->worst = d, t->worst_at = (unsigned)(base + i);
            t->hist[d < 3 ? d : 3]++;
            float s = f.scalar(x[i]);
            if (__builtin_memcmp(&s, &y[i], 4) != 0 && !(s != s && y[i] != y[i])) t->scalar_mismatch++;
        }
    }
}

int main(int argc, char** argv) {
    if (argc < 2) return std::fprintf(stderr, "usage: %s FUNCTION [THREADS]\n", argv[0]), 2;
    const Fn* f = nullptr;
    for (const Fn& g : FNS)
        if (!std::strcmp(g.name, argv[1])) f = &g;
    if (!f) return std::fprintf(stderr, "unknown function %s\n", argv[1]), 2;
    int threads = argc > 2 ? std::atoi(argv[2]) : 2;
    const unsigned long long total = 1ULL << 32, share = total / threads;
    std::vector<Tally> tallies(threads);
    std::vector<std::thread> pool;
    for (int k = 0; k < threads; ++k)
        pool.emplace_back(run, std::cref(*f), k * share, k + 1 == threads ? total : (k + 1) * share,
                          &tallies[k]);
    for (auto& p : pool) p.join();
    Tally all;
    for (auto& t : tallies) {
        if (t.worst > all.worst) all.worst = t.worst, all.worst_at = t.worst_at;
        for (int i = 0; i < 4; ++i) all.hist[i] += t.hist[i];
        all.scalar_mismatch += t.scalar_mismatch;
    }
    float at;
    memcpy(&at, &all.worst_at, 4);
    std::printf("%s: max %lld ulp at x = %a (%.9g, bits 0x%08x): got %.9g, float64 rounded %.9g\n",
                f->name, all.worst, at, at, all.worst_at, f->scalar(at),
                (float)f->ref((double)at));
    std::printf("%s: inputs 0 ulp %lld, 1 ulp %lld, 2 ulp %lld, more %lld; "
                "vector and scalar results differ for %lld\n", f->name, all.hist[0],
                all.hist[1], all.hist[2], all.hist[3], all.scalar_mismatch);
    return 0;
}
