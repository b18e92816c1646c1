// tj_simt_runtime.cpp: the SIMT runtime that runs the GPU variant of generated kernels on
// the host (built once as a shared library, tinyjax/backends/simt.py). This file is the
// scheduler and the launch; tj_simt_state.h holds the state and the fiber switch,
// tj_simt_checks.h checked mode (compiled as one unit: headers.expand inlines them). Kernels are built
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
// several host threads (kernels/tj_thread_pool.h, shared with the host launcher).
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
#include "tj_simt_state.h"
#include "tj_simt_checks.h"
#include "tj_thread_pool.h"

// --- the scheduler --------------------------------------------------------------------
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

void Launch::run() { worker(this); }

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
        tj_thread_pool<Launch>::here()->launch(L, threads - 1);
    }
    if (!L.failed.load()) return 0;
    snprintf(a->error, (size_t)a->error_len, "%s", L.error.c_str());
    return 1;
}
