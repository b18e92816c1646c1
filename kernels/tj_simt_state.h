// tj_simt_state.h: the SIMT runtime's state (part of tj_simt_runtime.cpp, which says
// how it works): a launch, its fibers and blocks, switching between fibers, and the
// built-ins (threadIdx, __syncthreads, warp operations) the shim calls.
#pragma once
#include <dlfcn.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct tj_dim3 { unsigned int x, y, z; };

// Warp operations (kept in step with kernels/tj_simt_shim.h).
enum {
    OP_SHFL_IDX, OP_SHFL_UP, OP_SHFL_DOWN, OP_SHFL_XOR, OP_BALLOT, OP_ANY, OP_ALL,
    OP_SYNCWARP, OP_REDUCE_ADD, OP_REDUCE_MIN, OP_REDUCE_MAX, OP_REDUCE_AND, OP_REDUCE_OR,
    OP_REDUCE_XOR, OP_REDUCE_MIN_S, OP_REDUCE_MAX_S, OP_COUNT
};
static const char* const OP_NAMES[OP_COUNT] = {
    "__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync", "__ballot_sync",
    "__any_sync", "__all_sync", "__syncwarp", "__reduce_add_sync", "__reduce_min_sync",
    "__reduce_max_sync", "__reduce_and_sync", "__reduce_or_sync", "__reduce_xor_sync",
    "__reduce_min_sync", "__reduce_max_sync"};

enum { READY, AT_BARRIER, AT_WARP, DONE, FAULT };

// One buffer of a launch, as described by the caller (tinyjax/backends/simt.py).
struct tj_simt_buffer {
    unsigned long long base, nbytes;
    int elem;              // element size in bytes (for the index in messages)
    const char* name;      // the kernel parameter: in0, out1, part ...
    const char* ctype;     // its element type as the kernel declares it
};

typedef void (*tj_entry)(void**, const long long*, int, int);

struct tj_simt_launch_args {
    tj_entry entry;                   // the module's tjw_<kernel> (TJ_WRAP in the shim)
    void* (*touch_shared)();          // allocates this host thread's shared memory (TLS)
    void** pointers;
    const long long* scalars;
    unsigned int grid[3], block[3];
    int n_buffers;
    const tj_simt_buffer* buffers;
    int n_scalars;
    const char* kernel;
    int checked;
    int host_threads;
    unsigned long long shared_limit;  // bytes of static shared memory a block may use
    unsigned long long stack_bytes;   // per fiber
    char* error;
    int error_len;
};

// --- a launch and the errors it reports --------------------------------------------------
struct Launch {
    const tj_simt_launch_args* a;
    unsigned long long image_lo = 0, image_hi = 0;   // the kernel module's mapped segments
    unsigned long long bias = 0;                     // its load address (for pc offsets)
    std::atomic<unsigned long long> next_block{0};
    unsigned long long n_blocks = 0;
    std::atomic<bool> failed{false};
    std::mutex m;
    std::string error;

    void run();                       // a host thread's share of the blocks (worker)

    void fail(const std::string& msg) {
        std::lock_guard<std::mutex> lock(m);
        if (!failed.load()) {
            error = msg;
            failed.store(true);
        }
    }
};

static std::string fmt(const char* f, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

// --- fibers and blocks --------------------------------------------------------------------
struct Fiber {
    jmp_buf env;
    ucontext_t uc;
    unsigned long long stack_lo, stack_hi;
    tj_dim3 tid;
    int lin, state, started;
    // what it waits at
    int op, line, arg, width;
    unsigned int mask;
    const void* site;
    unsigned long long value, result;
};

struct Cell {                 // racecheck state of one byte of shared memory
    unsigned int w_epoch, w_wepoch, r_epoch, r_wepoch;
    int writer, reader;       // thread (linear id), -1 none; reader -2: several
    int r_warp;               // warp of every reader, -1 when they span warps
    int init;
    unsigned long long w_pc, r_pc;   // where the last write and read were
};

struct Fault {                // what a hook saw, formatted after the fiber stopped
    int kind;                 // 1 bounds, 2 race, 3 uninitialised shared read
    unsigned long long addr, size;
    int write, other, hazard;
    unsigned long long pc;    // the access's instruction (after the hook call)
    unsigned long long other_pc;   // a race: the other thread's access
};

struct Block {
    Launch* L;
    Fiber* fibers = nullptr;
    int n = 0, n_warps = 0;
    tj_dim3 idx, dim, grid;
    jmp_buf sched;
    ucontext_t sched_uc;
    unsigned int epoch = 1;                 // completed __syncthreads + 1
    std::vector<unsigned int> wepoch;       // per warp: completed __syncwarp + 1
    unsigned long long shared_lo = 0, shared_size = 0;
    std::vector<Cell> cells;
    Fault fault{};
    int fault_thread = -1;
    Fault uninit{};            // the first read of unwritten shared memory, reported at the
    int uninit_thread = -1;    // next barrier unless a racing write explains it first
};

static thread_local Block* tl_block = nullptr;
static thread_local Fiber* tl_cur = nullptr;
static thread_local unsigned long long tl_pc = 0;   // the instrumented access being checked

static void fiber_yield(int state) {
    Fiber* f = tl_cur;
    f->state = state;
    if (!_setjmp(f->env)) _longjmp(tl_block->sched, 1);
}

// A fiber runs the kernel once per block its host thread runs: started once per launch,
// it then sleeps between blocks, so a block costs no stack set-up.
static void fiber_main() {
    Fiber* f = tl_cur;
    for (;;) {
        const tj_simt_launch_args* a = tl_block->L->a;
        a->entry(a->pointers, a->scalars, 0, 0);
        f->state = DONE;
        if (!_setjmp(f->env)) _longjmp(tl_block->sched, 1);
    }
}

static void resume(Block* b, Fiber* f) {
    tl_cur = f;
    if (!_setjmp(b->sched)) {
        if (f->started) _longjmp(f->env, 1);
        f->started = 1;
        swapcontext(&b->sched_uc, &f->uc);
    }
    tl_cur = nullptr;
}

// --- the CUDA built-ins the shim maps to these ------------------------------------------
extern "C" {
tj_dim3 tj_simt_thread_idx() { return tl_cur->tid; }
tj_dim3 tj_simt_block_idx() { return tl_block->idx; }
tj_dim3 tj_simt_block_dim() { return tl_block->dim; }
tj_dim3 tj_simt_grid_dim() { return tl_block->grid; }

void tj_simt_barrier(int line) {
    Fiber* f = tl_cur;
    f->line = line;
    f->site = __builtin_return_address(0);
    fiber_yield(AT_BARRIER);
}

unsigned long long tj_simt_warp(int op, int line, unsigned int mask, unsigned long long v,
                                int arg, int width) {
    Fiber* f = tl_cur;
    f->op = op, f->line = line, f->mask = mask, f->value = v, f->arg = arg, f->width = width;
    f->site = __builtin_return_address(0);
    fiber_yield(AT_WARP);
    return f->result;
}

unsigned int tj_simt_activemask() {
    Block* b = tl_block;
    const int w = tl_cur->lin / 32;
    unsigned int m = 0;
    for (int l = 0; l < 32 && w * 32 + l < b->n; ++l)
        if (b->fibers[w * 32 + l].state != DONE) m |= 1u << l;
    return m;
}
}
