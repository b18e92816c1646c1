"""Per-example gradients of an MLP: vmap(grad) against a Python loop of grad.

    python bench/vmap_per_example.py [--batch 128]

Runs on the default backend (the GPU when there is one). Prints the speedup.
"""
import argparse

import numpy as np

import tinyjax as jax
import tinyjax.numpy as jnp
from peers import Timer


def timeit(f, n=3):
    return Timer(jax.default_backend() == 'gpu', min_seconds=0, repeats=n, warmup=1).measure(f)


def make_loss(jnp):
    """The per-example loss for any jax-like numpy (tinyjax.numpy or jax.numpy);
    bench/run.py's per_example_grad case runs it for tinyjax and for JAX."""
    def loss(params, x, y):
        return _loss(jnp, params, x, y)
    return loss


def _loss(jnp, params, x, y):
    h = x
    for w, b in params[:-1]:
        h = jnp.tanh(h @ w + b)
    w, b = params[-1]
    logits = h @ w + b
    logits = logits - jnp.max(logits)
    return -jnp.sum((logits - jnp.log(jnp.sum(jnp.exp(logits)))) * y)


loss = make_loss(jnp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--batch', type=int, default=128)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    sizes = [784, 512, 512, 10]
    params = [(jnp.asarray(rng.standard_normal((a, b)).astype(np.float32) / np.sqrt(a)),
               jnp.zeros(b)) for a, b in zip(sizes[:-1], sizes[1:])]
    xs = jnp.asarray(rng.standard_normal((args.batch, 784)).astype(np.float32))
    ys = jnp.asarray(np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.batch)])
    g = jax.grad(loss)
    batched = jax.vmap(g, in_axes=(None, 0, 0))
    xs_np, ys_np = np.asarray(xs), np.asarray(ys)
    xs_rows = [jnp.asarray(r) for r in xs_np]
    ys_rows = [jnp.asarray(r) for r in ys_np]

    def loop():
        return [g(params, x, y) for x, y in zip(xs_rows, ys_rows)]
    t_vmap = timeit(lambda: jax.block_until_ready(batched(params, xs, ys)))
    t_loop = timeit(lambda: jax.block_until_ready(loop()), 1)
    print(f'backend: {jax.default_backend()}  device: {jax.devices()[0]}')
    print('| method | ms per batch |')
    print('|---|---|')
    print(f'| vmap(grad), batch {args.batch} | {t_vmap * 1e3:.1f} |')
    print(f'| Python loop of grad | {t_loop * 1e3:.1f} |')
    if hasattr(jax, 'jit'):
        jb = jax.jit(batched)
        t_jit = timeit(lambda: jax.block_until_ready(jb(params, xs, ys)))
        print(f'| jit(vmap(grad)) | {t_jit * 1e3:.1f} |')
    print(f'\nvmap speedup over the loop: {t_loop / t_vmap:.1f}×')


if __name__ == '__main__':
    main()
