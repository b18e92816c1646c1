// tj_thread_pool.h: host threads that sleep until a launch wants helpers, shared by the
// host launcher (tj_pylaunch.cpp) and the SIMT runtime (tj_simt_runtime.cpp).
//
// A job is any object with run(): the launching thread runs it, and so do up to
// `helpers` pool threads, each taking work from the job until none is left, so a thread
// that wakes late takes less (or none) and nobody waits for it. One launch at a time
// uses the threads; a launch that finds them busy (another Python thread's: pmap runs
// devices in threads) runs its job alone, which gives the same result.
#pragma once
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

// How long a launch spins waiting for its helpers before it sleeps (see wait_helpers),
// and a helper waiting for the next launch: the kernels and matmuls of a step follow
// each other within tens of us, and a sleeping helper takes tens of us to wake on a VM.
#ifndef TJ_POOL_SPIN_US
#define TJ_POOL_SPIN_US 50
#endif

template <typename Job> struct tj_thread_pool {
    std::mutex m, busy;
    std::condition_variable wake;
    Job* job = nullptr;
    unsigned long long posted = 0;
    std::atomic<unsigned long long> posted_now{0};   // `posted`, readable without m
    int threads = 0, wanted = 0;
    std::atomic<int> running{0};     // pool threads inside job->run()
    std::mutex done_m;
    std::condition_variable done;    // the last helper out, to a launch asleep waiting for it
    std::atomic<bool> sleeper{false};
    const pid_t pid = getpid();

    void work() {
        unsigned long long seen = 0;
        std::unique_lock<std::mutex> lock(m);
        for (;;) {
            if (posted == seen) {               // spin a while for the next launch first
                lock.unlock();
                const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(TJ_POOL_SPIN_US);
                while (posted_now.load(std::memory_order_acquire) == seen &&
                       std::chrono::steady_clock::now() < until)
                    std::this_thread::yield();
                lock.lock();
            }
            wake.wait(lock, [&] { return job != nullptr && posted != seen; });
            seen = posted;
            if (wanted == 0) continue;          // it has the threads it wants
            --wanted;
            running.fetch_add(1);               // under m: the launch sees it before it returns
            Job* j = job;
            lock.unlock();
            j->run();
            // the last touch of *j: its launch may return now
            if (running.fetch_sub(1) == 1 && sleeper.load()) {
                std::lock_guard<std::mutex> g(done_m);
                done.notify_one();
            }
            lock.lock();
        }
    }

    void launch(Job& j, int helpers) {
        std::unique_lock<std::mutex> gate(busy, std::try_to_lock);
        if (!gate.owns_lock() || helpers <= 0) return j.run();
        {
            std::lock_guard<std::mutex> lock(m);
            for (; threads < helpers; ++threads) std::thread(&tj_thread_pool::work, this).detach();
            job = &j, wanted = helpers;
            posted_now.store(++posted, std::memory_order_release);
        }
        wake.notify_all();
        j.run();
        {
            std::lock_guard<std::mutex> lock(m);
            job = nullptr, wanted = 0;          // all work is taken: no helper joins from now on
        }
        wait_helpers();
    }

    // Wait for the helpers still finishing their last piece of work. Spin first (sleeping
    // on a condition variable costs a wake-up of tens of us on a VM), but not for long: a
    // helper that lost its core to another process mid-block is queued behind it on that
    // core, and only an idle core pulls it over. Spinning here kept this core busy, so the
    // launch waited a whole time slice of the other process (bench softmax 512x4096 at load
    // 1.3: median 24 ms against a minimum of 2 ms).
    void wait_helpers() {
        const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(TJ_POOL_SPIN_US);
        while (running.load() != 0) {
            if (std::chrono::steady_clock::now() < spin_until) {
                std::this_thread::yield();
                continue;
            }
            std::unique_lock<std::mutex> g(done_m);
            sleeper.store(true);
            // (a timeout as well: a wake-up is never lost, see work(), but a bounded sleep
            // costs nothing)
            done.wait_for(g, std::chrono::milliseconds(1), [&] { return running.load() == 0; });
            sleeper.store(false);
        }
    }

    // The process's pool, made on first use. Never destroyed (its threads may be asleep
    // inside it at exit); a forked child, which has none of its threads, makes a new one.
    static tj_thread_pool* here() {
        static std::mutex made;
        static tj_thread_pool* pool = nullptr;
        std::lock_guard<std::mutex> lock(made);
        if (pool == nullptr || pool->pid != getpid()) pool = new tj_thread_pool();
        return pool;
    }
};
