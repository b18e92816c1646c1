// tj_simt_checks.h: checked mode of the SIMT runtime (part of tj_simt_runtime.cpp, which
// says how it works): the hooks -fsanitize=thread instrumentation calls, bounds checks,
// racecheck of shared memory, atomics, and the messages that describe a fault.
#pragma once
#include "tj_simt_state.h"

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

// --- messages: who did what, where ----------------------------------------------------
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
