"""Tracing state is per thread (as JAX's is): grad, vmap, jit tracing and plain eager ops
run from several threads at once with no failure and no wrong value, and one compiled
Program serves every thread."""
import threading

import numpy as np

import tinyjax as jax
import tinyjax.numpy as jnp

THREADS = 4


def _run_threads(work, n=THREADS):
    errors, barrier = [], threading.Barrier(n)

    def body(k):
        try:
            barrier.wait()
            work(k)
        except BaseException as e:      # collected: a failing thread must fail the test
            errors.append(f'thread {k}: {type(e).__name__}: {e}')

    threads = [threading.Thread(target=body, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_grad_vmap_jit_and_eager_ops_from_several_threads_at_once():
    shared = jax.jit(lambda w, x: jnp.tanh(x @ w).sum())     # one Program, every thread
    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    wrong = []

    def work(k):
        for i in range(40):
            x = np.float32(0.05 * (k + 1) + 1e-3 * i)
            kind = (k + i) % 4
            if kind == 0:      # grad, traced op by op with concrete values
                got = float(jax.grad(lambda t: jnp.sin(t) * t)(x))
                want = np.cos(x) * x + np.sin(x)
            elif kind == 1:    # vmap
                v = np.arange(5, dtype=np.float32) + x
                got = np.asarray(jax.vmap(lambda t: t * t + 1)(v))
                want = v * v + 1
            elif kind == 2:    # jit: a fresh trace each time (new function), then the shared one
                f = jax.jit(lambda t, c: jnp.cos(t) + c)
                got = (float(f(x, i)), float(shared(w, np.full((2, 4), x, np.float32))))
                want = (np.cos(x) + i, np.tanh(np.full((2, 4), x) @ w).sum())
            else:              # plain eager ops, while other threads trace
                got = np.asarray(jnp.exp(jnp.full((3,), x)) - 1)
                want = np.exp(np.full((3,), x, np.float32)) - 1
            if not np.allclose(got, want, rtol=1e-5, atol=1e-6):
                wrong.append((k, i, kind, got, want))

    _run_threads(work)
    assert wrong == []


def test_grad_of_jit_and_vmap_of_grad_in_threads():
    def loss(w, x):
        return jnp.sum(jnp.tanh(x * w) ** 2)
    g = jax.jit(jax.grad(loss))
    x = np.linspace(-2, 2, 7, dtype=np.float32)
    results = {}

    def work(k):
        w = np.float32(0.25 * (k + 1))
        for _ in range(20):
            a = float(g(w, x))
            b = np.asarray(jax.vmap(jax.grad(loss), in_axes=(0, None))(np.full(3, w), x))
            results.setdefault(k, set()).add((a, tuple(b)))

    _run_threads(work)
    for k, seen in results.items():
        assert len(seen) == 1                 # every repeat gave the same numbers
        (a, b), = seen
        w = 0.25 * (k + 1)
        t = np.tanh(x.astype(np.float64) * w)
        want = np.sum(2 * t * (1 - t * t) * x)
        np.testing.assert_allclose([a, *b], [want] * 4, rtol=1e-5)


def test_tracing_in_one_thread_leaves_eager_ops_of_another_eager():
    started, release = threading.Event(), threading.Event()
    seen = {}

    def tracer_thread():
        def f(x):
            started.set()
            release.wait(30)
            return x + 1
        seen['jit'] = float(jax.jit(f)(np.float32(1)))

    t = threading.Thread(target=tracer_thread)
    t.start()
    assert started.wait(30)
    try:
        y = jnp.ones(3) * 2            # this thread is not tracing: a concrete array
        seen['eager'] = np.asarray(y).tolist()
    finally:
        release.set()
        t.join()
    assert seen == {'jit': 2.0, 'eager': [2.0, 2.0, 2.0]}
