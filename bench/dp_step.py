"""A data-parallel MLP train step on 1, 2 and 8 devices: sharded jit and shard_map.

    python bench/dp_step.py [--devices 1,2,8] [--batch 512] [--repeat 20]

The step is the trainer's (784-512-512-10 MLP, Adam, forward + backward + update) under
one `jit`; its parameters are replicated over a mesh axis 'data' and its batch split
over it, so the partitioned program runs one per-device program and all-reduces the
gradients (NCCL on GPUs, device copies on the CPU). For each device count it reports
the minimum and median of `repeat` steps, with the load average the machine showed.
On a CPU the N logical devices share the host's cores: the figures show the overhead
of the SPMD machinery, not a speed-up. Prints a markdown table; not a test.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinyjax as jax  # noqa: E402
import tinyjax.numpy as jnp  # noqa: E402
from tinyjax import random  # noqa: E402
from tinyjax.examples import train_mlp  # noqa: E402
from tinyjax.sharding import NamedSharding, PartitionSpec as P  # noqa: E402


def bench(n, batch, repeat):
    mesh = jax.make_mesh((n,), ('data',))
    opt = train_mlp.make_optimizer('adam', 1e-3, 1000)
    params = train_mlp.init_params(random.PRNGKey(0), [784, 512, 512, 10])
    state = opt.init(params)
    step = train_mlp.make_train_step(opt, 10)
    params, state = jax.device_put((params, state), NamedSharding(mesh, P()))
    rng = np.random.default_rng(0)
    x = jax.device_put(jnp.asarray(rng.standard_normal((batch, 784), np.float32)),
                       NamedSharding(mesh, P('data')))
    y = jax.device_put(jnp.asarray(rng.integers(0, 10, batch).astype(np.int32)),
                       NamedSharding(mesh, P('data')))
    out = step(params, state, x, y)           # compile
    jax.block_until_ready(out)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = step(params, state, x, y)
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--devices', default='1,2,8')
    ap.add_argument('--batch', type=int, default=512)
    ap.add_argument('--repeat', type=int, default=20)
    args = ap.parse_args(argv)
    counts = [int(c) for c in args.devices.split(',')]
    if jax.default_backend() == 'cpu':
        jax.config.update('jax_num_cpu_devices', max(counts))
    print(f'tinyjax {jax.__version__}, {jax.default_backend()}, MLP 784-512-512-10 Adam step, '
          f'batch {args.batch}')
    print('| devices | min ms | median ms | load avg (1 min) |')
    print('|---|---|---|---|')
    for n in counts:
        lo, med = bench(n, args.batch, args.repeat)
        print(f'| {n} | {lo * 1e3:.2f} | {med * 1e3:.2f} | {os.getloadavg()[0]:.1f} |')


if __name__ == '__main__':
    main()
