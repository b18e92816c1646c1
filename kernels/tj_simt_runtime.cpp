// tj_simt_runtime.cpp: the SIMT runtime that runs the GPU variant of generated kernels on
// the host (built once as a shared library, tinyjax/backends/simt.py). Kernels are built
// against kernels/tj_simt_shim.h, whose CUDA built-ins call the tj_simt_* functions here.
//
// Threads. A block's blockDim threads are fibers, each on its own small stack (started
// with glibc's makecontext/swapcontext, switched with _setjmp/_longjmp, which saves no
// signal mask and so costs no system call). A host thread runs one block at a time: it
// resumes each runnable fiber until it blocks at __syncthreads or at a warp operation
// (shuffle, vote, __syncwarp) or returns. A warp operation completes when every lane its
// mask names waits at the same one; __syncthreads completes when every thread of the
// block waits at the same one. Anything else (a lane that exited, a lane the block does
// not have, threads waiting at different barriers) is an error naming the threads, as
// is a block whose threads all wait and none can go on. Blocks of a launch are shared by
// several host threads (a pool kept for the process, as kernels/tj_pylaunch.cpp does).
//
// Shared memory. The shim declares `__shared__` variables `static thread_local`: a host
// thread runs one block at a time, so its thread-local copy is exactly one block
// instance's shared memory, and the fibers of that block (all on that host thread) share
// it. The module's TLS segment is therefore the block's shared memory; its size is
// checked against the per-block limit.
//
// Checked mode. The kernel module is compiled with -fsanitize=thread, which makes the
// compiler call __tsan_read4(addr), __tsan_write8(addr) ... before every load and store
// it emits; this file implements those hooks (the way the Linux kernel's KCSAN supplies
// its own runtime for the same instrumentation) instead of linking ThreadSanitizer.
// A hook lets an access through when it lies on the thread's own stack, inside one of
// the launch's buffers, or (a read) in the module's own image; an access to the block's
// shared memory goes through racecheck (below); anything else stops the launch with an
// error naming the kernel, the thread, the nearest buffer, the element index and the
// buffer's extent. The hook runs before the access, so a stray store never happens.
//
// Racecheck keeps, for every byte of shared memory, the last writer and the readers of
// the current barrier interval (numbered by completed __syncthreads of the block, and,
// between lanes of one warp, by completed __syncwarp). A write by another thread after a
// read or write in the same interval, or a read after another thread's write, is a
// hazard (WAR, WAW, RAW), as compute-sanitizer's racecheck reports them; so is a read of
// shared memory this block never wrote (shared memory starts as garbage on a GPU; here it
// is filled with 0xff bytes at every block start).
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
#include <condition_variable>
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

// --- checked mode: bounds and racecheck ------------------------------------------------
static void stop(int kind, unsigned long long addr, unsigned long long size, int write,
                 int other = -1, int hazard = 0, unsigned long long other_pc = 0) {
    Block* b = tl_block;
    b->fault = Fault{kind, addr, size, write, other, hazard, tl_pc, other_pc};
    b->fault_thread = tl_cur->lin;
    fiber_yield(FAULT);          // never resumed
}

static inline bool same_interval(Block* b, int other, unsigned int epoch, unsigned int wep,
                                 int other_warp, int me_warp) {
    if (epoch != b->epoch) return false;
    return other_warp != me_warp || wep == b->wepoch[me_warp];
}

static void shared_access(Block* b, unsigned long long addr, unsigned long long size, bool write) {
    const int me = tl_cur->lin, mw = me / 32;
    const unsigned long long off = addr - b->shared_lo;
    for (unsigned long long k = 0; k < size && off + k < b->shared_size; ++k) {
        Cell& c = b->cells[off + k];
        if (c.writer >= 0 && c.writer != me &&
            same_interval(b, c.writer, c.w_epoch, c.w_wepoch, c.writer / 32, mw))
            stop(2, addr, size, write, c.writer, write ? 3 : 1, c.w_pc);   // WAW or RAW
        if (write) {
            const bool others = c.reader == -2 || (c.reader >= 0 && c.reader != me);
            if (others && c.r_epoch == b->epoch &&
                (c.r_warp != mw || c.r_wepoch == b->wepoch[mw]))
                stop(2, addr, size, write, c.reader, 2, c.r_pc);            // WAR
            c.writer = me, c.w_epoch = b->epoch, c.w_wepoch = b->wepoch[mw], c.w_pc = tl_pc;
            c.reader = -1;
            c.init = 1;
        } else {
            if (!c.init && b->uninit.kind == 0) {
                b->uninit = Fault{3, addr, size, 0, -1, 0, tl_pc, 0};
                b->uninit_thread = me;
            }
            if (c.reader == -1 || c.r_epoch != b->epoch) {
                c.reader = me, c.r_warp = mw;
            } else if (c.reader != me) {
                if (c.r_warp != mw) c.r_warp = -1;
                c.reader = -2;
            }
            c.r_epoch = b->epoch, c.r_wepoch = b->wepoch[mw], c.r_pc = tl_pc;
        }
    }
}

static void check(void* p, unsigned long long size, bool write) {
    Fiber* f = tl_cur;
    if (f == nullptr) return;                       // not inside a launch's thread
    Block* b = tl_block;
    const unsigned long long a = (unsigned long long)p;
    if (a >= f->stack_lo && a + size <= f->stack_hi) return;
    if (a - b->shared_lo < b->shared_size) {
        if (a + size > b->shared_lo + b->shared_size) stop(1, a, size, write);
        return shared_access(b, a, size, write);
    }
    const tj_simt_launch_args* la = b->L->a;
    for (int i = 0; i < la->n_buffers; ++i) {
        const tj_simt_buffer& buf = la->buffers[i];
        if (a - buf.base < buf.nbytes) {
            if (a + size > buf.base + buf.nbytes) stop(1, a, size, write);
            return;
        }
    }
    if (!write && a >= b->L->image_lo && a + size <= b->L->image_hi) return;
    // The kernel's parameters, which the entry point unpacks (a GPU's constant bank).
    const unsigned long long pp = (unsigned long long)la->pointers, ps = (unsigned long long)la->scalars;
    if (!write && a >= pp && a + size <= pp + 8ull * la->n_buffers) return;
    if (!write && a >= ps && a + size <= ps + 8ull * la->n_scalars) return;
    stop(1, a, size, write);
}

// The hooks GCC and Clang's -fsanitize=thread instrumentation calls.
extern "C" {
#define TJ_PC (tl_pc = (unsigned long long)__builtin_return_address(0))
#define TJ_HOOKS(n)                                                                   \
    void __tsan_read##n(void* p) { TJ_PC; check(p, n, false); }                       \
    void __tsan_write##n(void* p) { TJ_PC; check(p, n, true); }                       \
    void __tsan_unaligned_read##n(void* p) { TJ_PC; check(p, n, false); }             \
    void __tsan_unaligned_write##n(void* p) { TJ_PC; check(p, n, true); }             \
    void __tsan_volatile_read##n(void* p) { TJ_PC; check(p, n, false); }              \
    void __tsan_volatile_write##n(void* p) { TJ_PC; check(p, n, true); }
TJ_HOOKS(1) TJ_HOOKS(2) TJ_HOOKS(4) TJ_HOOKS(8) TJ_HOOKS(16)
void __tsan_read_range(void* p, unsigned long size) { TJ_PC; if (size) check(p, size, false); }
void __tsan_write_range(void* p, unsigned long size) { TJ_PC; if (size) check(p, size, true); }
void __tsan_init() {}
void __tsan_func_entry(void*) {}
void __tsan_func_exit() {}
void __tsan_vptr_update(void**, void*) {}
void __tsan_vptr_read(void**) {}
void* __tsan_memcpy(void* d, const void* s, unsigned long n) {
    TJ_PC;
    if (n) check((void*)s, n, false), check(d, n, true);
    return memcpy(d, s, n);
}
void* __tsan_memmove(void* d, const void* s, unsigned long n) {
    TJ_PC;
    if (n) check((void*)s, n, false), check(d, n, true);
    return memmove(d, s, n);
}
void* __tsan_memset(void* d, int c, unsigned long n) {
    TJ_PC;
    if (n) check(d, n, true);
    return memset(d, c, n);
}

// Atomics on global or shared memory: checked like any access (an atomic is never a
// race), done with the host's atomic instructions (blocks run on several host threads).
unsigned long long tj_simt_atomic(int op, int type, void* p, unsigned long long v,
                                  unsigned long long cmp);
void tj_simt_fence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
}

template <typename T> static T from_bits(unsigned long long u) { T t; memcpy(&t, &u, sizeof(T)); return t; }
template <typename T> static unsigned long long to_bits(T t) {
    unsigned long long u = 0;
    memcpy(&u, &t, sizeof(T));
    return u;
}

template <typename T> static unsigned long long atomic_op(int op, T* p, T v, T cmp) {
    T old;
    __atomic_load(p, &old, __ATOMIC_SEQ_CST);
    for (;;) {
        T nv;
        switch (op) {
            case 0: nv = old + v; break;                          // add
            case 1: nv = v < old ? v : old; break;                // min
            case 2: nv = v > old ? v : old; break;                // max
            case 3: nv = v; break;                                // exch
            case 4: nv = old == cmp ? v : old; break;             // cas
            case 5: nv = from_bits<T>(to_bits(old) & to_bits(v)); break;
            case 6: nv = from_bits<T>(to_bits(old) | to_bits(v)); break;
            case 7: nv = from_bits<T>(to_bits(old) ^ to_bits(v)); break;
            case 8: nv = old + (T)1; break;                       // inc/dec as add
            default: nv = old - v; break;                         // sub
        }
        if (__atomic_compare_exchange(p, &old, &nv, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return to_bits(old);
    }
}

extern "C" unsigned long long tj_simt_atomic(int op, int type, void* p, unsigned long long v,
                                             unsigned long long cmp) {
    static const int sizes[] = {4, 4, 8, 8, 4, 8};
    Block* b = tl_block;
    if (b != nullptr && b->L->a->checked) {
        const unsigned long long a = (unsigned long long)p, n = sizes[type];
        if (a - b->shared_lo < b->shared_size && a + n <= b->shared_lo + b->shared_size) {
            for (unsigned long long k = 0; k < n; ++k) b->cells[a - b->shared_lo + k].init = 1;
        } else {
            check(p, n, true);
        }
    }
    switch (type) {
        case 0: return atomic_op<int>(op, (int*)p, from_bits<int>(v), from_bits<int>(cmp));
        case 1: return atomic_op<unsigned int>(op, (unsigned int*)p, (unsigned int)v, (unsigned int)cmp);
        case 2: return atomic_op<long long>(op, (long long*)p, (long long)v, (long long)cmp);
        case 3: return atomic_op<unsigned long long>(op, (unsigned long long*)p, v, cmp);
        case 4: return atomic_op<float>(op, (float*)p, from_bits<float>(v), from_bits<float>(cmp));
        default: return atomic_op<double>(op, (double*)p, from_bits<double>(v), from_bits<double>(cmp));
    }
}

// --- the scheduler --------------------------------------------------------------------
static std::string thread_name(const Block* b, int lin) {
    const Fiber& f = b->fibers[lin];
    if (b->dim.y == 1 && b->dim.z == 1) return fmt("thread %u", f.tid.x);
    return fmt("thread (%u,%u,%u)", f.tid.x, f.tid.y, f.tid.z);
}

static std::string block_name(const Block* b) {
    const Launch* L = b->L;
    if (b->grid.y == 1 && b->grid.z == 1)
        return fmt("kernel %s (grid %u, block %u), block %u", L->a->kernel, b->grid.x,
                   b->dim.x, b->idx.x);
    return fmt("kernel %s (grid (%u,%u,%u), block (%u,%u,%u)), block (%u,%u,%u)", L->a->kernel,
               b->grid.x, b->grid.y, b->grid.z, b->dim.x, b->dim.y, b->dim.z, b->idx.x,
               b->idx.y, b->idx.z);
}

static std::string waiting_at(const Fiber& f) {
    if (f.state == DONE) return "exited";
    if (f.state == AT_BARRIER) return fmt("waiting at __syncthreads (line %d)", f.line);
    if (f.state == AT_WARP)
        return fmt("waiting at %s (line %d, mask 0x%08x)", OP_NAMES[f.op], f.line, f.mask);
    return "running";
}

// "threads 0-31: waiting at ...; threads 32-63: exited": runs of consecutive threads.
static std::string describe(const Block* b, int from, int to) {
    std::string out;
    for (int i = from; i < to;) {
        const std::string what = waiting_at(b->fibers[i]);
        int j = i + 1;
        while (j < to && waiting_at(b->fibers[j]) == what) ++j;
        if (!out.empty()) out += "; ";
        out += j - i == 1 ? fmt("thread %d: %s", i, what.c_str())
                          : fmt("threads %d-%d: %s", i, j - 1, what.c_str());
        i = j;
    }
    return out;
}

static std::string nearest_buffer(const Launch* L, unsigned long long a, unsigned long long size,
                                  int write) {
    const tj_simt_launch_args* la = L->a;
    const tj_simt_buffer* best = nullptr;
    unsigned long long best_d = ~0ull;
    for (int i = 0; i < la->n_buffers; ++i) {
        const tj_simt_buffer& buf = la->buffers[i];
        const unsigned long long d = a >= buf.base ? (a - buf.base >= buf.nbytes ? a - buf.base - buf.nbytes + 1 : 0)
                                                   : buf.base - a;
        if (d < best_d) best_d = d, best = &buf;
    }
    const char* verb = write ? "writes" : "reads";
    if (best == nullptr || best_d > (1ull << 20))
        return fmt("%s %llu bytes at address 0x%llx, outside every buffer of the launch "
                   "(a wild pointer)", verb, size, a);
    const long long delta = (long long)(a - best->base);
    const int e = best->elem > 0 ? best->elem : 1;
    const long long index = delta >= 0 ? delta / e : -((-delta + e - 1) / e);
    return fmt("%s %llu bytes at %s[%lld], out of bounds: %s has %llu elements of %s "
               "(%llu bytes)", verb, size, best->name, index, best->name,
               best->nbytes / (unsigned long long)e, best->ctype, best->nbytes);
}

static std::string fault_text(Block* b, const Fault& f, int thread);

// The message, ending with the access's code offset in the module, which
// tinyjax/backends/simt.py turns into the source line.
static std::string fault_message(Block* b, const Fault& f, int thread) {
    std::string m = fault_text(b, f, thread);
    if (f.kind != 2 && f.pc > b->L->bias) m += fmt(" [pc +0x%llx]", f.pc - 1 - b->L->bias);
    return m;
}

static std::string fault_text(Block* b, const Fault& f, int thread) {
    const std::string who = block_name(b) + ", " + thread_name(b, thread);
    if (f.kind == 1) return who + " " + nearest_buffer(b->L, f.addr, f.size, f.write);
    const unsigned long long off = f.addr - b->shared_lo;
    if (f.kind == 3)
        return who + fmt(" reads %llu bytes of shared memory at offset %llu that no thread "
                         "of this block has written (uninitialised)", f.size, off);
    static const char* const hazards[] = {"", "read-after-write", "write-after-read",
                                          "write-after-write"};
    const std::string other = f.other == -2 ? std::string("other threads")
                                            : thread_name(b, f.other);
    const std::string there = f.other_pc > b->L->bias
        ? fmt(" [pc +0x%llx]", f.other_pc - 1 - b->L->bias) : std::string();
    const std::string here = f.pc > b->L->bias
        ? fmt(" [pc +0x%llx]", f.pc - 1 - b->L->bias) : std::string();
    return who + fmt(" %s %llu bytes of shared memory at offset %llu%s that %s %s%s with no "
                     "barrier between: a %s hazard (a race, as compute-sanitizer's racecheck "
                     "would report it)", f.write ? "writes" : "reads", f.size, off, here.c_str(),
                     other.c_str(), f.hazard == 2 ? "read" : "wrote", there.c_str(),
                     hazards[f.hazard]);
}

// Complete the warp operations of warp w whose lanes have all arrived. Returns whether
// some lane can run again; on an error, records it and returns false.
static bool settle_warp(Block* b, int w) {
    Fiber* F = b->fibers + w * 32;
    const int lanes = b->n - w * 32 < 32 ? b->n - w * 32 : 32;
    bool woke = false;
    for (int l = 0; l < lanes; ++l) {
        Fiber& f = F[l];
        if (f.state != AT_WARP) continue;
        const unsigned int m = f.mask;
        auto where = [&] { return block_name(b) + ", warp " + std::to_string(w) + ": "; };
        if (!(m >> l & 1u)) {
            b->L->fail(where() + fmt("lane %d calls %s (line %d) with mask 0x%08x, which does "
                                   "not include the calling lane", l, OP_NAMES[f.op], f.line, m));
            return false;
        }
        if (lanes < 32 && (m >> lanes) != 0) {
            b->L->fail(where() + fmt("%s (line %d) with mask 0x%08x names lanes %d-31, which "
                                   "this warp does not have: the block has %d threads, not a "
                                   "multiple of 32", OP_NAMES[f.op], f.line, m, lanes, b->n));
            return false;
        }
        bool ready = true;
        for (int k = 0; k < lanes; ++k) {
            if (!(m >> k & 1u)) continue;
            const Fiber& g = F[k];
            if (g.state == AT_WARP && g.op == f.op && g.line == f.line && g.mask == m &&
                g.site == f.site)
                continue;
            if (g.state == READY) { ready = false; break; }
            b->L->fail(where() + fmt("lane %d: %s, but lane %d: %s; the lanes a mask names "
                                   "must all reach the same warp operation", l,
                                   waiting_at(f).c_str(), k, waiting_at(g).c_str()));
            return false;
        }
        if (!ready) continue;
        // Every lane of the mask is here: exchange.
        const int width = f.width;
        if (width <= 0 || width > 32 || (width & (width - 1))) {
            b->L->fail(where() + fmt("%s (line %d): width %d is not a power of two up to 32",
                                   OP_NAMES[f.op], f.line, width));
            return false;
        }
        unsigned int votes = 0;
        for (int k = 0; k < lanes; ++k)
            if ((m >> k & 1u) && F[k].value) votes |= 1u << k;
        for (int k = 0; k < lanes; ++k) {
            if (!(m >> k & 1u)) continue;
            Fiber& g = F[k];
            const int base = k & ~(width - 1), pos = k & (width - 1);
            int src = k;
            switch (g.op) {
                case OP_SHFL_IDX: src = base + (g.arg & (width - 1)); break;
                case OP_SHFL_UP: src = pos >= g.arg ? k - g.arg : k; break;
                case OP_SHFL_DOWN: src = pos + g.arg < width ? k + g.arg : k; break;
                case OP_SHFL_XOR: src = (k ^ g.arg) < base + width ? (k ^ g.arg) : k; break;
                default: break;
            }
            if (g.op <= OP_SHFL_XOR) {
                if (src < 0 || src >= lanes || !(m >> src & 1u)) {
                    b->L->fail(where() + fmt("lane %d's %s (line %d) reads lane %d, which is not "
                                           "in the mask 0x%08x", k, OP_NAMES[g.op], g.line,
                                           src, m));
                    return false;
                }
                g.result = F[src].value;
            } else if (g.op == OP_BALLOT) {
                g.result = votes;
            } else if (g.op == OP_ANY) {
                g.result = votes != 0;
            } else if (g.op == OP_ALL) {
                g.result = votes == (m & (lanes == 32 ? ~0u : (1u << lanes) - 1));
            } else if (g.op == OP_SYNCWARP) {
                g.result = 0;
            } else {
                unsigned long long acc = 0;
                bool first = true;
                for (int q = 0; q < lanes; ++q) {
                    if (!(m >> q & 1u)) continue;
                    const unsigned int u = (unsigned int)F[q].value;
                    const int s = (int)u, as = (int)acc;
                    if (first) { acc = u; first = false; continue; }
                    switch (g.op) {
                        case OP_REDUCE_ADD: acc = (unsigned int)(acc + u); break;
                        case OP_REDUCE_MIN: acc = u < acc ? u : acc; break;
                        case OP_REDUCE_MAX: acc = u > acc ? u : acc; break;
                        case OP_REDUCE_MIN_S: acc = (unsigned int)(s < as ? s : as); break;
                        case OP_REDUCE_MAX_S: acc = (unsigned int)(s > as ? s : as); break;
                        case OP_REDUCE_AND: acc &= u; break;
                        case OP_REDUCE_OR: acc |= u; break;
                        default: acc ^= u; break;
                    }
                }
                g.result = acc;
            }
        }
        if (f.op == OP_SYNCWARP) ++b->wepoch[w];
        for (int k = 0; k < lanes; ++k)
            if (m >> k & 1u) F[k].state = READY;
        woke = true;
    }
    return woke;
}

// All threads at one __syncthreads: release them. Returns whether it did.
static bool settle_barrier(Block* b) {
    int first = -1;
    for (int i = 0; i < b->n; ++i) {
        const Fiber& f = b->fibers[i];
        if (f.state == READY || f.state == AT_WARP) return false;
        if (f.state == AT_BARRIER && first < 0) first = i;
    }
    if (first < 0) return false;
    const Fiber& f0 = b->fibers[first];
    for (int i = 0; i < b->n; ++i) {
        const Fiber& f = b->fibers[i];
        if (f.state != AT_BARRIER || f.line != f0.line || f.site != f0.site) {
            b->L->fail(block_name(b) + ": __syncthreads is not reached by every thread of the "
                       "block: " + describe(b, 0, b->n));
            return false;
        }
    }
    ++b->epoch;
    for (int i = 0; i < b->n; ++i) b->fibers[i].state = READY;
    return true;
}

static void run_block(Block* b) {
    const tj_simt_launch_args* a = b->L->a;
    for (int i = 0; i < b->n; ++i) b->fibers[i].state = READY;
    b->epoch = 1;
    b->wepoch.assign(b->n_warps, 1);
    b->uninit = Fault{};
    if (a->checked && b->shared_size) {
        memset((void*)b->shared_lo, 0xff, b->shared_size);     // garbage, as on a GPU
        memset(b->cells.data(), 0, b->cells.size() * sizeof(Cell));
        for (Cell& c : b->cells) c.writer = c.reader = -1;
    }
    for (;;) {
        bool ran = false;
        for (int w = 0; w < b->n_warps; ++w) {
            for (;;) {
                for (int i = w * 32; i < b->n && i < w * 32 + 32; ++i) {
                    if (b->fibers[i].state != READY) continue;
                    resume(b, &b->fibers[i]);
                    ran = true;
                    if (b->fibers[i].state == FAULT) {
                        b->L->fail(fault_message(b, b->fault, b->fault_thread));
                        return;
                    }
                    if (b->L->failed.load()) return;
                }
                if (!settle_warp(b, w)) break;
            }
            if (b->L->failed.load()) return;
        }
        bool all_done = true;
        for (int i = 0; i < b->n && all_done; ++i) all_done = b->fibers[i].state == DONE;
        if (b->uninit.kind) {
            bool waiting = true;      // report once every thread waits or is done
            for (int i = 0; i < b->n && waiting; ++i)
                waiting = b->fibers[i].state == DONE || b->fibers[i].state == AT_BARRIER;
            if (waiting) {
                b->L->fail(fault_message(b, b->uninit, b->uninit_thread));
                return;
            }
        }
        if (all_done) return;
        if (settle_barrier(b) || b->L->failed.load()) {
            if (b->L->failed.load()) return;
            continue;
        }
        if (!ran) {
            b->L->fail(block_name(b) + ": no thread can go on (deadlock): " + describe(b, 0, b->n));
            return;
        }
    }
}

// --- shared memory of this host thread: the kernel module's TLS block ------------------
struct TlsQuery { unsigned long long entry, tls, size, image_lo, image_hi, bias; };

static int find_module(struct dl_phdr_info* info, size_t, void* data) {
    TlsQuery* q = (TlsQuery*)data;
    bool mine = false;
    unsigned long long lo = ~0ull, hi = 0, tls_size = 0;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type == PT_LOAD) {
            const unsigned long long s = info->dlpi_addr + ph.p_vaddr, e = s + ph.p_memsz;
            if (q->entry >= s && q->entry < e) mine = true;
            if (s < lo) lo = s;
            if (e > hi) hi = e;
        } else if (ph.p_type == PT_TLS) {
            tls_size = ph.p_memsz;
        }
    }
    if (!mine) return 0;
    q->tls = (unsigned long long)info->dlpi_tls_data;
    q->size = tls_size;
    q->image_lo = lo, q->image_hi = hi;
    q->bias = info->dlpi_addr;
    return 1;
}

// The fibers of a host thread, kept from launch to launch (a launch of small blocks would
// otherwise spend most of its time mapping stacks and starting fibers). Between blocks a
// fiber is parked in fiber_main; a failed launch may leave fibers inside the kernel, so
// the set is then thrown away and rebuilt by the next launch.
struct FiberSet {
    char* stacks = nullptr;
    size_t len = 0, stack_bytes = 0;
    std::vector<Fiber> fibers;
    ucontext_t start;             // outlives the fibers' first switch (its FP state is read)

    void release() {
        if (stacks) munmap(stacks, len);
        stacks = nullptr;
        fibers.clear();
    }
    ~FiberSet() { release(); }

    bool ensure(int n, size_t bytes) {
        if (stacks && (size_t)n <= fibers.size() && bytes == stack_bytes) return true;
        release();
        stack_bytes = bytes;
        len = (size_t)n * (bytes + 4096);
        void* mem = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED) return false;
        stacks = (char*)mem;
        fibers = std::vector<Fiber>((size_t)n);
        getcontext(&start);
        for (int i = 0; i < n; ++i) {
            char* guard = stacks + (size_t)i * (bytes + 4096);
            mprotect(guard, 4096, PROT_NONE);     // a guard page under every stack
            Fiber& f = fibers[i];
            f.started = 0;
            f.lin = i;
            f.stack_lo = (unsigned long long)(guard + 4096);
            f.stack_hi = f.stack_lo + bytes;
            f.uc = start;
            f.uc.uc_stack.ss_sp = guard + 4096;
            // Stack tops at staggered offsets: at one offset the hot top lines of every
            // fiber's stack would compete for the same cache sets.
            f.uc.uc_stack.ss_size = bytes - (size_t)(i % 61) * 64;
            f.uc.uc_link = nullptr;
            makecontext(&f.uc, fiber_main, 0);
        }
        return true;
    }
};

static thread_local FiberSet tl_fibers;

static void worker(Launch* L) {
    const tj_simt_launch_args* a = L->a;
    Block b;
    b.L = L;
    b.dim = tj_dim3{a->block[0], a->block[1], a->block[2]};
    b.grid = tj_dim3{a->grid[0], a->grid[1], a->grid[2]};
    b.n = (int)(b.dim.x * b.dim.y * b.dim.z);
    b.n_warps = (b.n + 31) / 32;
    a->touch_shared();                 // allocates this thread's copy of the module's TLS
    TlsQuery q{(unsigned long long)a->entry, 0, 0, 0, 0, 0};
    dl_iterate_phdr(find_module, &q);
    if (q.size && !q.tls) {
        L->fail(fmt("kernel %s: the shared memory of its blocks (the module's thread-local "
                    "segment) could not be located", a->kernel));
        return;
    }
    b.shared_lo = q.tls, b.shared_size = q.size;
    if (a->checked) b.cells.resize(q.size);
    if (!tl_fibers.ensure(b.n, (size_t)a->stack_bytes)) {
        L->fail(fmt("kernel %s: cannot map the stacks of %d fibers", a->kernel, b.n));
        return;
    }
    b.fibers = tl_fibers.fibers.data();
    for (int i = 0; i < b.n; ++i)
        b.fibers[i].tid = tj_dim3{(unsigned)i % b.dim.x, (unsigned)i / b.dim.x % b.dim.y,
                                  (unsigned)i / (b.dim.x * b.dim.y)};
    tl_block = &b;
    for (unsigned long long k; !L->failed.load() && (k = L->next_block.fetch_add(1)) < L->n_blocks;) {
        b.idx = tj_dim3{(unsigned)(k % b.grid.x), (unsigned)(k / b.grid.x % b.grid.y),
                        (unsigned)(k / ((unsigned long long)b.grid.x * b.grid.y))};
        run_block(&b);
    }
    tl_block = nullptr;
    if (L->failed.load()) tl_fibers.release();
}

// Host threads that sleep until a launch wants helpers. One launch at a time uses them;
// a launch that finds them busy (another Python thread's) runs its blocks alone.
struct Pool {
    std::mutex m, busy;
    std::condition_variable wake, done;
    Launch* job = nullptr;
    unsigned long long posted = 0;
    int threads = 0, wanted = 0, running = 0;
    const pid_t pid = getpid();

    void work() {
        unsigned long long seen = 0;
        std::unique_lock<std::mutex> lock(m);
        for (;;) {
            wake.wait(lock, [&] { return job != nullptr && posted != seen; });
            seen = posted;
            if (wanted == 0) continue;
            --wanted, ++running;
            Launch* L = job;
            lock.unlock();
            worker(L);
            lock.lock();
            --running;
            done.notify_all();
        }
    }

    void launch(Launch* L, int helpers) {
        std::unique_lock<std::mutex> gate(busy, std::try_to_lock);
        if (!gate.owns_lock() || helpers == 0) return worker(L);
        {
            std::lock_guard<std::mutex> lock(m);
            for (; threads < helpers; ++threads) std::thread(&Pool::work, this).detach();
            job = L, wanted = helpers;
            ++posted;
        }
        wake.notify_all();
        worker(L);
        std::unique_lock<std::mutex> lock(m);
        job = nullptr, wanted = 0;          // no helper joins from now on
        done.wait(lock, [&] { return running == 0; });
    }
};

static std::mutex tj_pool_lock;
static Pool* tj_pool = nullptr;     // never destroyed: its threads sleep inside it at exit

extern "C" int tj_simt_launch(const tj_simt_launch_args* a) {
    Launch L;
    L.a = a;
    L.n_blocks = (unsigned long long)a->grid[0] * a->grid[1] * a->grid[2];
    TlsQuery q{(unsigned long long)a->entry, 0, 0, 0, 0, 0};
    dl_iterate_phdr(find_module, &q);
    L.image_lo = q.image_lo, L.image_hi = q.image_hi, L.bias = q.bias;
    if (q.size > a->shared_limit) {
        L.fail(fmt("kernel %s uses %llu bytes of static shared memory; a block may use at most "
                   "%llu", a->kernel, q.size, a->shared_limit));
    } else if (L.n_blocks) {
        int threads = a->host_threads < 1 ? 1 : a->host_threads;
        if ((unsigned long long)threads > L.n_blocks) threads = (int)L.n_blocks;
        Pool* pool;
        {
            std::lock_guard<std::mutex> lock(tj_pool_lock);
            if (tj_pool == nullptr || tj_pool->pid != getpid()) tj_pool = new Pool();  // a fork's child has none of the threads
            pool = tj_pool;
        }
        pool->launch(&L, threads - 1);
    }
    if (!L.failed.load()) return 0;
    snprintf(a->error, (size_t)a->error_len, "%s", L.error.c_str());
    return 1;
}
