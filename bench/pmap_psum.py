"""pmap(psum) time: on the CPU (device copies), and on GPUs against a raw NCCL all-reduce.

    python bench/pmap_psum.py [--devices N] [--sizes 1024,1048576] [--repeat N]

CPU: N CPU devices (jax_num_cpu_devices); the collective gathers the shards by device
copies. GPU (skipped cleanly without one): every visible GPU, or TINYJAX_NUM_GPU_DEVICES
logical ones; `pmap(psum)` end to end (sharding, the per-device programs, the collective)
against one grouped `ncclAllReduce` per device on the same buffers — the floor pmap's
overhead is measured from. Prints a markdown table; not a test (timings depend on the
machine).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinyjax as jax  # noqa: E402
from tinyjax import lax  # noqa: E402
from peers import Timer  # noqa: E402


def timeit(f, repeat, sync=lambda: None):
    return Timer(jax.default_backend() == 'gpu', repeats=repeat).measure(f, sync=sync, events=False, best=True)


def bench_pmap(devs, size, repeat):
    n = len(devs)
    x = np.random.default_rng(0).standard_normal((n, size)).astype(np.float32)
    f = jax.pmap(lambda v: lax.psum(v, 'i'), axis_name='i', devices=devs)
    xs = jax.pmap(lambda v: v, devices=devs)(x)      # already sharded: time the call, not the upload
    out = f(xs)
    np.testing.assert_allclose(np.asarray(out)[0], x.sum(0), rtol=1e-4, atol=1e-4)
    sync = lambda: out.block_until_ready()
    return timeit(lambda: f(xs).block_until_ready(), repeat, sync), f


def bench_nccl(devs, size, repeat):
    """One grouped all-reduce per device on its stream, straight through CuPy's bindings."""
    from tinyjax.backends import collectives
    nccl = collectives.nccl_module()
    if nccl is None or not collectives.nccl_usable(devs):
        return None
    comms = nccl.NcclCommunicator.initAll([d.physical_id for d in devs])
    bufs = []
    for d in devs:
        with d.context():
            bufs.append((d.xp.ones(size, d.xp.float32), d.xp.empty(size, d.xp.float32)))

    def once():
        nccl.groupStart()
        for d, c, (s, r) in zip(devs, comms, bufs):
            c.allReduce(s.data.ptr, r.data.ptr, size, nccl.NCCL_FLOAT32, nccl.NCCL_SUM, d.stream.ptr)
        nccl.groupEnd()

    def sync():
        for d in devs:
            d.synchronize()
    return timeit(lambda: (once(), sync()), repeat, sync)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--devices', type=int, default=8, help='CPU devices to map over')
    ap.add_argument('--sizes', default='1024,65536,1048576', help='float32 elements per shard')
    ap.add_argument('--repeat', type=int, default=20)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(',')]
    jax.config.update('jax_num_cpu_devices', a.devices)
    print('| backend | devices | shard elements | pmap(psum) | raw NCCL all-reduce | how |')
    print('| --- | --- | --- | --- | --- | --- |')
    cpus = jax.devices('cpu')
    for size in sizes:
        t, f = bench_pmap(cpus, size, a.repeat)
        how = next(iter(f._cache.values())).program.collectives.kind
        print(f'| cpu | {len(cpus)} | {size} | {t * 1e6:.0f} us | - | {how} |')
    from tinyjax.backends import cuda
    if cuda.gpu_count() == 0:
        print('\n(no GPU visible to CuPy: the GPU rows are skipped)')
        return
    gpus = jax.devices('gpu')
    for size in sizes:
        t, f = bench_pmap(gpus, size, a.repeat)
        how = next(iter(f._cache.values())).program.collectives.kind
        raw = bench_nccl(gpus, size, a.repeat)
        raw_s = f'{raw * 1e6:.0f} us' if raw is not None else 'n/a (no NCCL for these devices)'
        print(f'| gpu | {len(gpus)} | {size} | {t * 1e6:.0f} us | {raw_s} | {how} |')


if __name__ == '__main__':
    main()
