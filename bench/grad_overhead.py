"""Eager grad overhead per primitive on the CPU, and jit(grad) against grad for an MLP loss.

    python bench/grad_overhead.py [--repeat N]

Prints a markdown table. Not a test: timings depend on the machine.
"""
import argparse

import numpy as np

import tinyjax as jax
import tinyjax.numpy as jnp
from peers import Timer


def timeit(f, repeat):
    return Timer(jax.default_backend() == 'gpu', repeats=repeat).measure(f)


PRIMS = {
    'sin': lambda x: jnp.sum(jnp.sin(x)),
    'exp': lambda x: jnp.sum(jnp.exp(x)),
    'mul': lambda x: jnp.sum(x * x),
    'tanh': lambda x: jnp.sum(jnp.tanh(x)),
    'max': lambda x: jnp.max(x),
    'reshape': lambda x: jnp.sum(jnp.reshape(x, (-1,)) * 2.0),
    'matmul': lambda x: jnp.sum(x @ x),
}


def mlp_loss(params, x, y):
    h = x
    for w, b in params[:-1]:
        h = jnp.tanh(h @ w + b)
    w, b = params[-1]
    logits = h @ w + b
    logits = logits - jnp.max(logits, axis=1, keepdims=True)
    logp = logits - jnp.log(jnp.sum(jnp.exp(logits), axis=1, keepdims=True))
    return -jnp.mean(jnp.sum(logp * y, axis=1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--repeat', type=int, default=50)
    args = ap.parse_args()
    x = jnp.asarray(np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32))
    print(f'backend: {jax.default_backend()}  device: {jax.devices()[0]}\n')
    print('| primitive | f(x) µs | grad(f)(x) µs | overhead ×|')
    print('|---|---|---|---|')
    for name, f in PRIMS.items():
        tf = timeit(lambda: f(x).block_until_ready(), args.repeat)
        g = jax.grad(f)
        tg = timeit(lambda: g(x).block_until_ready(), args.repeat)
        print(f'| {name} | {tf * 1e6:.1f} | {tg * 1e6:.1f} | {tg / tf:.1f} |')
    rng = np.random.default_rng(1)
    sizes = [64, 128, 128, 10]
    params = [(jnp.asarray(rng.standard_normal((a, b)).astype(np.float32) / np.sqrt(a)),
               jnp.zeros(b)) for a, b in zip(sizes[:-1], sizes[1:])]
    xb = jnp.asarray(rng.standard_normal((128, 64)).astype(np.float32))
    yb = jnp.asarray(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)])
    g = jax.grad(mlp_loss)
    t_eager = timeit(lambda: jax.block_until_ready(g(params, xb, yb)), max(args.repeat // 5, 3))
    print(f'\nMLP 64-128-128-10, batch 128: grad {t_eager * 1e3:.2f} ms/step')
    if hasattr(jax, 'jit'):
        jg = jax.jit(g)
        t_jit = timeit(lambda: jax.block_until_ready(jg(params, xb, yb)), max(args.repeat // 5, 3))
        print(f'MLP jit(grad) {t_jit * 1e3:.2f} ms/step  (speedup {t_eager / t_jit:.1f}×)')


if __name__ == '__main__':
    main()
