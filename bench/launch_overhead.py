"""What one launch costs on the GPU, and what a CUDA graph would save (needs a GPU).

    python bench/launch_overhead.py [--json PATH]

Answers the design's open question 3 with three numbers:
- host time of one kernel launch through CuPy's `Function` (the path tinyjax takes), and
  the device time per launch of a stream of them (an empty-ish kernel: launch-bound);
- the same sequence captured once as a CUDA graph and replayed: device time per kernel,
  and the host time of one replay;
- a jitted `x + 1` on 1k floats end to end (tinyjax and JAX), per call.
A graph can only pay where a program has long runs of kernels with no cuBLAS call between
them, and with CuPy it needs every buffer at a fixed address (inputs copied in first), so
the difference between the first two numbers is the most it could win per kernel.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SRC = r'''
extern "C" __global__ void add_one(float* __restrict__ x, const int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
    x[i] += 1.0f;
}
'''


def per_call(fn, repeats, sync):
    for _ in range(20):
        fn()
    sync()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    host = (time.perf_counter() - t) / repeats
    sync()
    return host, (time.perf_counter() - t) / repeats


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--json')
    ap.add_argument('--kernels', type=int, default=32, help='launches per captured graph')
    a = ap.parse_args(argv)
    import tinyjax          # first: with TINYJAX_PLATFORM=gpu-emulated it puts the emulated CuPy in place
    import cupy as cp
    from tinyjax.compiler import nvrtc
    dev = cp.cuda.Device()
    arch = 'sm_' + dev.compute_capability
    module = cp.cuda.function.Module()
    module.load(nvrtc.compile_cubin(SRC, arch, 'launch_overhead'))
    fn = module.get_function('add_one')
    stream = cp.cuda.Stream(non_blocking=True)
    x = cp.zeros(1024, cp.float32)
    # zeros() fills x on the legacy default stream, which a non-blocking stream does not
    # wait for: without this the first launches could race the fill.
    cp.cuda.Stream.null.synchronize()
    n = np.int32(x.size)
    res = {'device': cp.cuda.runtime.getDeviceProperties(dev.id)['name'].decode(),
           'cupy': cp.__version__, 'nvrtc': '.'.join(map(str, nvrtc.version()))}

    def launch():
        fn((4,), (256,), (x, n), stream=stream)
    host, total = per_call(launch, 20000, stream.synchronize)
    res['launch_host_us'], res['launch_stream_us'] = host * 1e6, total * 1e6

    k = a.kernels
    stream.begin_capture()
    for _ in range(k):
        launch()
    graph = stream.end_capture()
    host, total = per_call(lambda: graph.launch(stream), 2000, stream.synchronize)
    res['graph_kernels'] = k
    res['graph_replay_host_us'] = host * 1e6
    res['graph_per_kernel_us'] = total / k * 1e6

    import tinyjax.numpy as jnp
    f = tinyjax.jit(lambda v: v + 1)
    xv = jnp.ones(1024)
    _, t = per_call(lambda: f(xv), 20000, lambda: tinyjax.block_until_ready(f(xv)))
    res['tinyjax_jit_x_plus_1_us'] = t * 1e6
    try:
        import jax
        g = jax.jit(lambda v: v + 1)
        xj = jax.numpy.ones(1024)
        _, t = per_call(lambda: g(xj), 20000, lambda: g(xj).block_until_ready())
        res['jax_jit_x_plus_1_us'] = t * 1e6
    except Exception as e:            # JAX is a peer, not a requirement
        res['jax_jit_x_plus_1_us'] = f'skipped: {type(e).__name__}: {e}'
    expected = 20 + 20000 + (20 + 2000) * k       # every launch and replay ran once
    res['check'] = 'ok' if float(x[0]) == expected else f'x[0]={float(x[0])}, expected {expected}'
    print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json, 'w') as fh:
            json.dump(res, fh, indent=1)


if __name__ == '__main__':
    main()
