"""tinyjax against jax.jit on the CPU, side by side: the two take turns, N rounds each.

    /work/jaxvenv/bin/python bench/side_by_side.py [--rounds N] [--case NAME ...] [--json PATH]

Run it with an interpreter that has JAX (tinyjax is taken from this checkout). For each
case both functions are compiled and warmed up, then timed in alternating rounds
(tinyjax, jax, tinyjax, jax, ...): each round is the mean of enough calls to last
`--round-ms`, and the table gives the minimum and the median round of each, and the
ratio tinyjax / jax of both (below 1: tinyjax is faster). Alternating matters on a
shared machine: a burst of load from other processes hits both sides alike. The load
average before and after each case is recorded, so a reader can tell a quiet run from a
busy one. Sizes are bench/run.py's --small ones.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import models  # noqa: E402


def _cases(rng):
    x = rng.standard_normal(1 << 20, dtype=np.float32)
    out = []
    for name, f in models.CHAINS.items():
        out.append((f'{name} 2^20', lambda m, f=f: (lambda x: f(m.numpy, x)), [x]))
    for cols in (1024, 4096):
        a = rng.standard_normal((512, cols), dtype=np.float32)
        g = 1 + 0.1 * rng.standard_normal(cols, dtype=np.float32)
        b = 0.1 * rng.standard_normal(cols, dtype=np.float32)
        out.append((f'softmax 512x{cols}', lambda m: (lambda x: models.softmax(m.numpy, x)), [a]))
        out.append((f'layernorm 512x{cols}',
                    lambda m: (lambda x, g, b: models.layernorm(m.numpy, x, g, b)), [a, g, b]))
    out.append(('sum 2^20', lambda m: (lambda x: m.numpy.sum(x)), [x]))
    a = rng.standard_normal((512, 1024), dtype=np.float32)
    out.append(('sum axis 0 512x1024', lambda m: (lambda x: m.numpy.sum(x, axis=0)), [a]))
    out.append(('logsumexp axis 0 512x1024',
                lambda m: (lambda x: m.numpy.log(m.numpy.sum(m.numpy.exp(x), axis=0))), [a]))
    for batch in (128, 512):
        params = models.mlp_params_numpy(rng)
        xb = rng.standard_normal((batch, models.MLP_SIZES[0]), dtype=np.float32)
        yb = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
        out.append((f'mlp_step batch {batch}', 'mlp', [params, xb, yb]))
    return out


def _prepare(lib, maker, inputs):
    """A zero-argument callable running the case once and waiting for it."""
    if maker == 'mlp':
        params, xb, yb = inputs
        step = models.make_mlp_step(lib, lib.numpy)
        p = [(lib.numpy.asarray(w), lib.numpy.asarray(c)) for w, c in params]
        xa, ya = lib.numpy.asarray(xb), lib.numpy.asarray(yb)
        return lambda: lib.block_until_ready(step(p, xa, ya))
    f = lib.jit(maker(lib))
    args = [lib.numpy.asarray(a) for a in inputs]
    return lambda: lib.block_until_ready(f(*args))


def _round(fn, calls):
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t) / calls


def _calls_for(fn, round_s):
    for _ in range(3):
        fn()
    once = max(_round(fn, 1), 1e-7)
    return max(1, min(10000, int(round_s / once)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rounds', type=int, default=9)
    ap.add_argument('--round-ms', type=float, default=30.0)
    ap.add_argument('--case', nargs='+', action='extend', help='substrings of case names')
    ap.add_argument('--json', metavar='PATH')
    args = ap.parse_args(argv)
    import jax
    import tinyjax
    rng = np.random.default_rng(0)
    rows = []
    for name, maker, inputs in _cases(rng):
        if args.case and not any(c in name for c in args.case):
            continue
        load0 = os.getloadavg()[0]
        fns = {'tinyjax': _prepare(tinyjax, maker, inputs), 'jax': _prepare(jax, maker, inputs)}
        calls = {k: _calls_for(f, args.round_ms / 1e3) for k, f in fns.items()}
        times = {k: [] for k in fns}
        for _ in range(args.rounds):
            for k, f in fns.items():
                times[k].append(_round(f, calls[k]))
        row = {'case': name, 'load_before': load0, 'load_after': os.getloadavg()[0]}
        for k, ts in times.items():
            row[k] = {'min': min(ts), 'median': statistics.median(ts)}
        row['ratio_min'] = row['tinyjax']['min'] / row['jax']['min']
        row['ratio_median'] = row['tinyjax']['median'] / row['jax']['median']
        rows.append(row)
        print(f"{name:28s} tinyjax {row['tinyjax']['min'] * 1e3:8.3f} / {row['tinyjax']['median'] * 1e3:8.3f} ms"
              f"   jax {row['jax']['min'] * 1e3:8.3f} / {row['jax']['median'] * 1e3:8.3f} ms"
              f"   ratio min {row['ratio_min']:5.2f} median {row['ratio_median']:5.2f}"
              f"   load {load0:.2f}->{row['load_after']:.2f}", flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'date': time.strftime('%Y-%m-%d %H:%M:%S %Z'), 'cpus': os.cpu_count(),
                       'jax': jax.__version__, 'rounds': args.rounds, 'rows': rows}, f, indent=1)
    return rows


if __name__ == '__main__':
    main()
