"""One first call of the MLP step in a fresh process (bench/cases.py's compile case).

    python bench/compile_child.py tinyjax|jax|torch.compile cpu|gpu

Imports and input creation are not timed; the clock runs from building the jitted step
to its first result being ready, so it covers tracing, compiling (or loading compiled
code from the cache directory the parent passes in the environment) and one run.
Prints {"seconds": ...} as the last line.
"""
import json
import sys
import time

import numpy as np

import models


def main():
    lib, platform = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    params = models.mlp_params_numpy(rng)
    x = rng.standard_normal((128, models.MLP_SIZES[0]), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
    if lib == 'tinyjax':
        import tinyjax
        import tinyjax.numpy as jnp
        p = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]
        xa, ya = jnp.asarray(x), jnp.asarray(y)
        tinyjax.block_until_ready((p, xa, ya))
        t = time.perf_counter()
        tinyjax.block_until_ready(models.make_mlp_step(tinyjax, jnp)(p, xa, ya))
    elif lib == 'jax':
        import jax
        jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
        jax.config.update('jax_persistent_cache_min_entry_size_bytes', -1)
        p, xa, ya = jax.device_put((params, x, y))
        jax.block_until_ready((p, xa, ya))
        t = time.perf_counter()
        jax.block_until_ready(models.make_mlp_step(jax, jax.numpy)(p, xa, ya))
    elif lib == 'torch.compile':
        import torch
        dev = 'cuda' if platform == 'gpu' else 'cpu'
        tp = [(torch.from_numpy(w).to(dev).requires_grad_(),
               torch.from_numpy(b).to(dev).requires_grad_()) for w, b in params]
        tx, ty = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
        t = time.perf_counter()
        torch.compile(models.make_torch_mlp_step(torch, tp))(tx, ty).item()
    else:
        raise SystemExit(f'unknown library {lib}')
    print(json.dumps({'seconds': time.perf_counter() - t}))


if __name__ == '__main__':
    main()
