"""The bench's elementwise and row cases built against several versions of the host shim,
timed in one process in alternating rounds (so load hits every version alike).

    python bench/shim_ab.py NAME=PATH [NAME=PATH ...] [--rounds N]

PATH is a kernels/tj_host_shim.h (e.g. one from `git show REV:kernels/tj_host_shim.h`);
the checkout's own is added as 'this'. Each case is jitted once per shim (the shim's
text is part of the kernel cache key, so each gets its own build); min / median ms.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import models  # noqa: E402
import tinyjax  # noqa: E402
import tinyjax.numpy as jnp  # noqa: E402
from tinyjax.compiler import headers  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('shims', nargs='+', metavar='NAME=PATH')
    ap.add_argument('--rounds', type=int, default=15)
    args = ap.parse_args()
    shims = dict(s.split('=', 1) for s in args.shims)
    shims = {n: open(p).read() for n, p in shims.items()}
    shims['this'] = headers.read_header('tj_host_shim.h')
    chosen = ['this']
    own = headers.read_header
    headers.read_header = lambda name: shims[chosen[0]] if name == 'tj_host_shim.h' else own(name)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal(1 << 20, dtype=np.float32))
    a1, a4 = (jnp.asarray(rng.standard_normal((512, c), dtype=np.float32)) for c in (1024, 4096))
    cases = [('gelu_tanh 2^20', models.gelu_tanh, x), ('selu 2^20', models.selu, x),
             ('chain16 2^20', models.chain16, x), ('softmax 512x1024', models.softmax, a1),
             ('softmax 512x4096', models.softmax, a4),
             ('logsumexp axis 0 512x1024', lambda m, v: m.log(m.sum(m.exp(v), axis=0)), a1)]
    print(f'load {os.getloadavg()[0]:.2f}, host threads {os.environ.get("TINYJAX_HOST_THREADS", "all")}')
    for name, f, arg in cases:
        fns = {}
        for v in shims:
            chosen[0] = v
            fns[v] = tinyjax.jit(lambda a, f=f: f(jnp, a))
            tinyjax.block_until_ready(fns[v](arg))
        times = {v: [] for v in fns}
        for _ in range(args.rounds):
            for v, g in fns.items():
                t, n = time.perf_counter(), 0
                while time.perf_counter() - t < 0.02:
                    out = g(arg)
                    n += 1
                tinyjax.block_until_ready(out)
                times[v].append((time.perf_counter() - t) / n * 1e3)
        print(f'{name:27s}', '  '.join(f'{v} {min(t):.3f}/{statistics.median(t):.3f}'
                                       for v, t in times.items()), flush=True)
    print(f'load {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
