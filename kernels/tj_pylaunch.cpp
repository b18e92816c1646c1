// tj_pylaunch.cpp: the host launcher, a small CPython extension that calls one compiled
// host kernel with the data pointers of NumPy arrays. Taking a pointer from Python with
// ctypes costs about a microsecond per array; here it is a field read.
//
//   launch(address, arrays, scalars, threads=1, blocks=threads) calls the wrapper at
//   `address` (TJ_WRAP in tj_host_shim.h: void f(void** pointers, const long long*
//   scalars, int block, int blocks)) once per block with each array's data pointer and
//   the integer scalars, releasing the GIL while the kernel runs. The blocks are shared
//   by the calling thread and up to threads - 1 threads of a pool kept for the process
//   (one block, the default, is a plain call); launch returns when all are done.
//
//   gemm(address, (a, b, c), ints, threads) runs a matrix product through the CBLAS gemm
//   at `address`, sliced over the same pool (tj_gemm below; tinyjax/backends/blas.py).
//
// launch's arrays must be C-contiguous ndarrays (the Program makes them so); anything
// else is a TypeError or ValueError naming the argument, never a wild pointer.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "tj_thread_pool.h"

typedef void (*tj_wrapper)(void**, const long long*, int, int);

// One piece of pool work: whoever works on it takes item numbers from `next` until none
// are left, and runs item(ctx, i) for each.
struct tj_job {
    void (*item)(const void* ctx, int i, int items);
    const void* ctx;
    int items, threads;
    std::atomic<int> next{0};
    void run() {
        for (int i; (i = next.fetch_add(1)) < items;) item(ctx, i, items);
    }
};

// Runs `items` items on the calling thread and up to threads - 1 pool threads, the GIL
// released. The caller holds the GIL.
static void tj_run(void (*item)(const void*, int, int), const void* ctx, int items, int threads) {
    tj_thread_pool<tj_job>* pool = tj_thread_pool<tj_job>::here();
    tj_job job;
    job.item = item, job.ctx = ctx, job.items = items, job.threads = threads;
    Py_BEGIN_ALLOW_THREADS
    if (threads <= 1 && items == 1) item(ctx, 0, 1);
    else pool->launch(job, threads - 1);
    Py_END_ALLOW_THREADS
}

// A kernel launch: an item is a host block.
struct tj_kernel {
    tj_wrapper fn;
    void** p;
    const long long* s;
};

static void tj_kernel_block(const void* ctx, int block, int blocks) {
    const tj_kernel* k = (const tj_kernel*)ctx;
    k->fn(k->p, k->s, block, blocks);
}

static PyObject* tj_launch(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs < 3 || nargs > 5 || !PyList_Check(args[1]) || !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "launch(address, list of arrays, tuple of ints, threads=1, "
                        "blocks=threads)");
        return NULL;
    }
    long threads = nargs >= 4 ? PyLong_AsLong(args[3]) : 1;
    if (threads == -1 && PyErr_Occurred()) return NULL;
    long blocks = nargs == 5 ? PyLong_AsLong(args[4]) : threads;
    if (blocks == -1 && PyErr_Occurred()) return NULL;
    if (threads > 1024) threads = 1024;
    if (blocks < 1) blocks = 1;
    if (blocks > (1 << 20)) blocks = 1 << 20;
    tj_wrapper fn = (tj_wrapper)PyLong_AsVoidPtr(args[0]);
    if (fn == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "launch: null kernel address");
        return NULL;
    }
    const Py_ssize_t n = PyList_GET_SIZE(args[1]), m = PyTuple_GET_SIZE(args[2]);
    void* small_p[32];
    long long small_s[8];
    std::vector<void*> big_p;
    std::vector<long long> big_s;
    void** p = small_p;
    long long* s = small_s;
    if (n > 32) { big_p.resize(n); p = big_p.data(); }
    if (m > 8) { big_s.resize(m); s = big_s.data(); }
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* a = PyList_GET_ITEM(args[1], i);
        if (!PyArray_Check(a)) {
            PyErr_Format(PyExc_TypeError, "launch: argument %zd is %s, not a numpy array",
                         i, Py_TYPE(a)->tp_name);
            return NULL;
        }
        if (!PyArray_IS_C_CONTIGUOUS((PyArrayObject*)a)) {
            PyErr_Format(PyExc_ValueError, "launch: argument %zd is not C-contiguous", i);
            return NULL;
        }
        p[i] = PyArray_DATA((PyArrayObject*)a);
    }
    for (Py_ssize_t i = 0; i < m; ++i) {
        s[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(args[2], i));
        if (s[i] == -1 && PyErr_Occurred()) return NULL;
    }
    tj_kernel k = {fn, p, s};
    tj_run(tj_kernel_block, &k, (int)blocks, (int)threads);
    Py_RETURN_NONE;
}

// A matrix product through the process's CBLAS ?gemm (OpenBLAS, set to one thread by
// tinyjax/backends/blas.py): an item is one matrix of a batch, or one slice of the
// output's rows or columns, each a gemm call of its own, so the threads of the pool share
// a product the way they share a kernel's blocks, and a thread that loses its core leaves
// its slices to the others. The slices depend on the shape and blas.py's thread count
// only, so a product has the same bits whichever threads run them (one gemm call over
// the whole product may differ from them in the last place: OpenBLAS picks kernels by size).
struct tj_gemm {
    void* fn;                      // cblas_sgemm or cblas_dgemm
    int size, ilp64, ta, tb;       // element bytes; 64-bit integers; CblasNoTrans/CblasTrans
    long long m, n, k, lda, ldb, ldc, sa, sb, sc;   // sizes, leading dims, batch strides
    long long chunks, split_n, step;  // slices per matrix, along n (else m), of step each
    const char *a, *b;
    char* c;
};

template <typename T, typename I> static void tj_gemm_slice(const tj_gemm& g, long long bi,
                                                            long long lo, long long hi) {
    typedef void (*gemm_fn)(int, int, int, I, I, I, T, const T*, I, const T*, I, T, T*, I);
    const T* a = (const T*)g.a + bi * g.sa;
    const T* b = (const T*)g.b + bi * g.sb;
    T* c = (T*)g.c + bi * g.sc;
    long long m = g.m, n = g.n;
    if (g.split_n) {               // columns lo..hi of b and c
        b += g.tb == 111 ? lo : lo * g.ldb;
        c += lo, n = hi - lo;
    } else {                       // rows lo..hi of a and c
        a += g.ta == 111 ? lo * g.lda : lo;
        c += lo * g.ldc, m = hi - lo;
    }
    ((gemm_fn)g.fn)(101, g.ta, g.tb, (I)m, (I)n, (I)g.k, (T)1, a, (I)g.lda, b, (I)g.ldb, (T)0,
                    c, (I)g.ldc);
}

static void tj_gemm_item(const void* ctx, int i, int) {
    const tj_gemm& g = *(const tj_gemm*)ctx;
    const long long bi = i / g.chunks, lo = (i % g.chunks) * g.step;
    const long long end = g.split_n ? g.n : g.m, hi = lo + g.step < end ? lo + g.step : end;
    if (g.size == 4) {
        if (g.ilp64) tj_gemm_slice<float, long long>(g, bi, lo, hi);
        else tj_gemm_slice<float, int>(g, bi, lo, hi);
    } else {
        if (g.ilp64) tj_gemm_slice<double, long long>(g, bi, lo, hi);
        else tj_gemm_slice<double, int>(g, bi, lo, hi);
    }
}

static const char* tj_data(PyObject* a, int i) {
    if (!PyArray_Check(a)) {
        PyErr_Format(PyExc_TypeError, "gemm: argument %d is %s, not a numpy array", i,
                     Py_TYPE(a)->tp_name);
        return NULL;
    }
    return (const char*)PyArray_DATA((PyArrayObject*)a);
}

// gemm(address, (a, b, c), (size, ilp64, ta, tb, m, n, k, lda, ldb, ldc, sa, sb, sc,
// batch, chunks, split_n, step), threads): the caller (blas.py) has checked the layout;
// a and b may be strided views, c is written.
static PyObject* tj_gemm_call(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyTuple_Check(args[1]) || PyTuple_GET_SIZE(args[1]) != 3 ||
        !PyTuple_Check(args[2]) || PyTuple_GET_SIZE(args[2]) != 17) {
        PyErr_SetString(PyExc_TypeError, "gemm(address, (a, b, c), 17 ints, threads)");
        return NULL;
    }
    long long v[17];
    for (int i = 0; i < 17; ++i) {
        v[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(args[2], i));
        if (v[i] == -1 && PyErr_Occurred()) return NULL;
    }
    const long threads = PyLong_AsLong(args[3]);
    if (threads == -1 && PyErr_Occurred()) return NULL;
    tj_gemm g;
    g.fn = PyLong_AsVoidPtr(args[0]);
    if (g.fn == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "gemm: null address");
        return NULL;
    }
    const char* d[3];
    for (int i = 0; i < 3; ++i)
        if ((d[i] = tj_data(PyTuple_GET_ITEM(args[1], i), i)) == NULL) return NULL;
    if (!PyArray_ISWRITEABLE((PyArrayObject*)PyTuple_GET_ITEM(args[1], 2))) {
        PyErr_SetString(PyExc_ValueError, "gemm: the output is read-only");
        return NULL;
    }
    g.a = d[0], g.b = d[1], g.c = (char*)d[2];
    g.size = (int)v[0], g.ilp64 = (int)v[1], g.ta = (int)v[2], g.tb = (int)v[3];
    g.m = v[4], g.n = v[5], g.k = v[6], g.lda = v[7], g.ldb = v[8], g.ldc = v[9];
    g.sa = v[10], g.sb = v[11], g.sc = v[12];
    g.chunks = v[14], g.split_n = v[15], g.step = v[16];
    const long long items = v[13] * g.chunks;
    if ((g.size != 4 && g.size != 8) || g.chunks < 1 || g.step < 1 || items < 1 ||
        items > (1 << 20)) {
        PyErr_SetString(PyExc_ValueError, "gemm: bad element size or slicing");
        return NULL;
    }
    tj_run(tj_gemm_item, &g, (int)items, threads < 1 ? 1 : threads > 1024 ? 1024 : (int)threads);
    Py_RETURN_NONE;
}

static PyMethodDef tj_methods[] = {
    {"launch", (PyCFunction)(void (*)(void))tj_launch, METH_FASTCALL,
     "launch(address, arrays, scalars, threads=1, blocks=threads): run a host kernel"},
    {"gemm", (PyCFunction)(void (*)(void))tj_gemm_call, METH_FASTCALL,
     "gemm(address, (a, b, c), ints, threads): a matrix product shared by the pool"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef tj_module = {PyModuleDef_HEAD_INIT, "tj_pylaunch", NULL, -1, tj_methods};

PyMODINIT_FUNC PyInit_tj_pylaunch(void) {
    import_array();
    return PyModule_Create(&tj_module);
}
