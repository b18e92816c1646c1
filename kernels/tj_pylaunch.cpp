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
// The arrays must be C-contiguous ndarrays (the Program makes them so); anything else
// is a TypeError or ValueError naming the argument, never a wild pointer.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "tj_thread_pool.h"

typedef void (*tj_wrapper)(void**, const long long*, int, int);

// One launch: whoever works on it takes block numbers from `next` until none are left.
struct tj_job {
    tj_wrapper fn;
    void** p;
    const long long* s;
    int blocks, threads;
    std::atomic<int> next{0};
    void run() {
        for (int b; (b = next.fetch_add(1)) < blocks;) fn(p, s, b, blocks);
    }
};

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
    if (threads <= 1 && blocks == 1) {
        Py_BEGIN_ALLOW_THREADS
        fn(p, s, 0, 1);
        Py_END_ALLOW_THREADS
    } else {
        tj_thread_pool<tj_job>* pool = tj_thread_pool<tj_job>::here();   // GIL held
        tj_job job;
        job.fn = fn, job.p = p, job.s = s, job.blocks = (int)blocks, job.threads = (int)threads;
        Py_BEGIN_ALLOW_THREADS
        pool->launch(job, job.threads - 1);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

static PyMethodDef tj_methods[] = {
    {"launch", (PyCFunction)(void (*)(void))tj_launch, METH_FASTCALL,
     "launch(address, arrays, scalars, threads=1, blocks=threads): run a host kernel"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef tj_module = {PyModuleDef_HEAD_INIT, "tj_pylaunch", NULL, -1, tj_methods};

PyMODINIT_FUNC PyInit_tj_pylaunch(void) {
    import_array();
    return PyModule_Create(&tj_module);
}
