"""The benchmark cases. Each returns records: tinyjax's median seconds, every peer's on
the same inputs in the same run, and the physical limit measured in the same run (a
device copy of the bytes the case must move, or the case's matmuls run alone through
cuBLAS / NumPy's BLAS)."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import models
from peers import ALL as PEER_ORDER, block_jax, random_input

HERE = os.path.dirname(os.path.abspath(__file__))

SIZES = {   # full: the issue's sizes (inputs far larger than an H100's 50 MB L2)
    'full': dict(chain_n=1 << 26, rows=16384, cols=(1024, 4096), dispatch_n=1024,
                 mlp_batch=(128, 4096), per_example_batch=128, loop_batch=32),
    'small': dict(chain_n=1 << 20, rows=512, cols=(1024, 4096), dispatch_n=1024,
                  mlp_batch=(128, 512), per_example_batch=16, loop_batch=8),
}


class Bench:
    """What every case needs: tinyjax, the peers, the timer, the limits."""

    def __init__(self, peers, timer, sizes, gpu):
        import tinyjax
        import tinyjax.numpy as tjnp
        self.tj, self.tjnp, self.peers, self.timer = tinyjax, tjnp, peers, timer
        self.sizes, self.gpu = sizes, gpu
        self.rng = np.random.default_rng(0)

    def time_tinyjax(self, fn, *np_inputs):
        args = [self.tjnp.asarray(a) for a in np_inputs]
        return self.timer.measure(lambda: fn(*args), block=self.tj.block_until_ready,
                                  sync=self._tj_sync())

    def _tj_sync(self):
        dev = self.tj.devices()[0]
        return dev.synchronize

    def time_peers(self, inputs, factories):
        """factories: {peer: module -> callable(*arrays)}. Returns (times, skipped)."""
        times, skipped = {}, {}
        for name in PEER_ORDER:
            if name not in factories:
                continue
            if not self.peers.has(name):
                skipped[name] = self.peers.skipped.get(name, 'unavailable')
                continue
            try:
                arrays = [self.peers.put(name, a) for a in inputs]
                f = factories[name](self.peers.mods[name])
                if name == 'jax':
                    t = self.timer.measure(lambda: f(*arrays), events=False, block=block_jax)
                else:
                    t = self.timer.measure(lambda: f(*arrays), sync=self.peers.sync(name))
                times[name] = t
            except Exception as e:       # e.g. torch.compile without a working compiler
                skipped[name] = f'failed: {type(e).__name__}: {str(e)[:160]}'
                self.peers.skip(name, skipped[name])
        return times, skipped

    def copy_seconds(self, nbytes):
        """A device copy of nbytes (moving 2*nbytes): the memory-bound limit."""
        if self.gpu:
            import cupy
            src = cupy.asarray(random_input(self.rng, (nbytes // 4,)))
            dst = cupy.empty_like(src)
            return self.timer.measure(
                lambda: dst.data.copy_from_device_async(src.data, src.nbytes),
                sync=cupy.cuda.get_current_stream().synchronize, best=True)
        src = random_input(self.rng, (nbytes // 4,))
        dst = np.empty_like(src)
        return self.timer.measure(lambda: np.copyto(dst, src), best=True)

    def matmul_seconds(self, program):
        """Every dot_general of a compiled Program run alone through the library's BLAS
        (cuBLAS via CuPy on a GPU): the compute-bound limit of the program."""
        xp, total = program.device.xp, 0.0
        for s in program.steps:
            if s.kind != 'dot':
                continue
            e = s.eqn
            a, b = (xp.asarray(random_input(self.rng, v.aval.shape, v.aval.dtype))
                    for v in e.inputs[:2])
            total += self.timer.measure(lambda: e.prim.impl(xp, a, b, **e.params),
                                        sync=self._tj_sync(), best=True)
        return total

    def record(self, case, variant, seconds, peers=(), skipped=(), limit=None,
               limit_seconds=None, **extra):
        peers = dict(peers)
        r = dict(case=case, variant=variant, seconds=seconds, peers=peers,
                 skipped=dict(skipped))
        # Peer time / tinyjax time from the medians and from the minima of the same
        # repeats (the minimum is the least disturbed by a busy machine).
        r['ratios'] = {p: t / seconds for p, t in peers.items() if t}
        if hasattr(seconds, 'min'):
            r.update(seconds_min=seconds.min, repeats=seconds.n)
            r['peers_min'] = {p: getattr(t, 'min', t) for p, t in peers.items()}
            r['ratios_min'] = {p: getattr(t, 'min', t) / seconds.min
                               for p, t in peers.items() if t}
        if limit_seconds:
            r.update(limit=limit, limit_seconds=limit_seconds,
                     fraction_of_limit=limit_seconds / seconds)
        r.update(extra)
        return r


def elementwise_factories(f):
    return {
        'jax': lambda jax: jax.jit(lambda x: f(jax.numpy, x)),
        'torch': lambda torch: (lambda m: lambda x: f(m, x))(models.TorchMath(torch)),
        'torch.compile': lambda torch: torch.compile(
            (lambda m: lambda x: f(m, x))(models.TorchMath(torch))),
        'cupy': lambda cp: lambda x: f(cp, x),
        'cupy.fuse': lambda cp: cp.fuse()(lambda x: f(cp, x)),
        'numpy': lambda np_: lambda x: f(np_, x),
    }


# -- cases ---------------------------------------------------------------------------------
def fused_chain(b):
    n = b.sizes['chain_n']
    x = random_input(b.rng, (n,))
    limit = b.copy_seconds(x.nbytes)      # read x once, write the result once
    out = []
    for variant, f in models.CHAINS.items():
        jf = b.tj.jit(lambda x, f=f: f(b.tjnp, x))
        t = b.time_tinyjax(jf, x)
        times, skipped = b.time_peers([x], elementwise_factories(f))
        out.append(b.record('fused_chain', f'{variant} n={n}', t, times, skipped,
                            'device copy', limit, bytes=2 * x.nbytes))
    return out


def fusion_speedup(b):
    n = b.sizes['chain_n']
    x = random_input(b.rng, (n,))
    limit = b.copy_seconds(x.nbytes)
    out = []
    for variant, f in models.CHAINS.items():
        fn = lambda x, f=f: f(b.tjnp, x)
        fused, unfused = b.tj.jit(fn), b.tj.jit(fn, fuse=False)
        t_f, t_u = b.time_tinyjax(fused, x), b.time_tinyjax(unfused, x)
        xa = b.tjnp.asarray(x)
        bytes_f = sum(k.bytes_read + k.bytes_written for k in fused.lower(xa).program.kernels)
        bytes_u = sum(k.bytes_read + k.bytes_written for k in unfused.lower(xa).program.kernels)
        out.append(b.record('fusion_speedup', f'{variant} n={n}', t_f, {}, {}, 'device copy',
                            limit, unfused_seconds=t_u, speedup=t_u / t_f,
                            bytes_ratio=bytes_u / bytes_f,
                            kernels_unfused=len(unfused.lower(xa).program.kernels)))
    return out


def rowwise(b):
    rows, out = b.sizes['rows'], []
    for cols in b.sizes['cols']:
        x = random_input(b.rng, (rows, cols))
        g = 1.0 + 0.1 * random_input(b.rng, (cols,))
        beta = 0.1 * random_input(b.rng, (cols,))
        limit = b.copy_seconds(x.nbytes)
        sm = {
            'jax': lambda jax: jax.jit(lambda x: models.softmax(jax.numpy, x)),
            'torch': lambda torch: lambda x: torch.softmax(x, -1),
            'torch.compile': lambda torch: torch.compile(lambda x: torch.softmax(x, -1)),
            'cupy': lambda cp: lambda x: models.softmax(cp, x),
            'numpy': lambda np_: lambda x: models.softmax(np_, x),
        }
        t = b.time_tinyjax(b.tj.jit(lambda x: models.softmax(b.tjnp, x)), x)
        times, skipped = b.time_peers([x], sm)
        skipped.setdefault('cupy.fuse', 'cupy.fuse cannot fuse a reduction followed by '
                                        'elementwise work')
        out.append(b.record('rowwise', f'softmax {rows}x{cols}', t, times, skipped,
                            'device copy', limit, bytes=2 * x.nbytes))

        def torch_ln(torch):
            F = torch.nn.functional
            return lambda x, g, bb: F.layer_norm(x, (x.shape[-1],), g, bb, 1e-5)
        ln = {
            'jax': lambda jax: jax.jit(lambda x, g, bb: models.layernorm(jax.numpy, x, g, bb)),
            'torch': torch_ln,
            'torch.compile': lambda torch: torch.compile(torch_ln(torch)),
            'cupy': lambda cp: lambda x, g, bb: models.layernorm(cp, x, g, bb),
            'numpy': lambda np_: lambda x, g, bb: models.layernorm(np_, x, g, bb),
        }
        t = b.time_tinyjax(b.tj.jit(lambda x, g, bb: models.layernorm(b.tjnp, x, g, bb)),
                           x, g, beta)
        times, skipped = b.time_peers([x, g, beta], ln)
        out.append(b.record('rowwise', f'layernorm {rows}x{cols}', t, times, skipped,
                            'device copy', limit, bytes=2 * x.nbytes))
    return out


def full_sum(b):
    """jnp.sum of one long vector: a single row, split across the whole GPU."""
    n = b.sizes['chain_n']
    x = random_input(b.rng, (n,))
    limit = b.copy_seconds(x.nbytes // 2)    # reading x moves as many bytes as copying half
    t = b.time_tinyjax(b.tj.jit(lambda x: b.tjnp.sum(x)), x)
    times, skipped = b.time_peers([x], {
        'jax': lambda jax: jax.jit(lambda x: jax.numpy.sum(x)),
        'torch': lambda torch: lambda x: torch.sum(x),
        'cupy': lambda cp: lambda x: cp.sum(x),
        'numpy': lambda np_: lambda x: np_.sum(x),
    })
    return [b.record('full_sum', f'sum n={n}', t, times, skipped, 'device copy', limit,
                     bytes=x.nbytes)]


def dispatch(b):
    n = b.sizes['dispatch_n']
    x = random_input(b.rng, (n,))
    t = b.time_tinyjax(b.tj.jit(lambda x: x + 1), x)
    times, skipped = b.time_peers([x], {
        'jax': lambda jax: jax.jit(lambda x: x + 1),
        'torch': lambda torch: lambda x: x + 1,
        'torch.compile': lambda torch: torch.compile(lambda x: x + 1),
        'cupy': lambda cp: lambda x: x + 1,
        'numpy': lambda np_: lambda x: x + 1,
    })
    return [b.record('dispatch', f'jit(x+1) n={n}, per call', t, times, skipped)]


def _mlp_inputs(b, batch):
    params = models.mlp_params_numpy(b.rng)
    x = random_input(b.rng, (batch, models.MLP_SIZES[0]))
    y = np.eye(models.MLP_SIZES[-1], dtype=np.float32)[b.rng.integers(0, 10, batch)]
    return params, x, y


def mlp_step(b):
    out = []
    for batch in b.sizes['mlp_batch']:
        params, x, y = _mlp_inputs(b, batch)
        step = models.make_mlp_step(b.tj, b.tjnp)
        tparams = [(b.tjnp.asarray(w), b.tjnp.asarray(c)) for w, c in params]
        xa, ya = b.tjnp.asarray(x), b.tjnp.asarray(y)
        t = b.timer.measure(lambda: step(tparams, xa, ya), block=b.tj.block_until_ready,
                            sync=b._tj_sync())
        limit = b.matmul_seconds(step.lower(tparams, xa, ya).program)
        times, skipped = {}, {}
        if b.peers.has('jax'):
            try:
                jax = b.peers.mods['jax']
                jstep = models.make_mlp_step(jax, jax.numpy)
                jp = jax.device_put(params)
                jx, jy = jax.device_put(x), jax.device_put(y)
                times['jax'] = b.timer.measure(lambda: jstep(jp, jx, jy), events=False,
                                               block=block_jax)
            except Exception as e:
                skipped['jax'] = f'failed: {type(e).__name__}: {str(e)[:160]}'
        else:
            skipped['jax'] = b.peers.skipped.get('jax')
        for name in ('torch', 'torch.compile'):
            if not b.peers.has(name):
                skipped[name] = b.peers.skipped.get(name)
                continue
            try:
                torch = b.peers.mods[name]
                tp = [(b.peers.put(name, w).requires_grad_(), b.peers.put(name, c).requires_grad_())
                      for w, c in params]
                f = models.make_torch_mlp_step(torch, tp)
                f = torch.compile(f) if name == 'torch.compile' else f
                tx, ty = b.peers.put(name, x), b.peers.put(name, y)
                times[name] = b.timer.measure(lambda: f(tx, ty), sync=b.peers.sync(name))
            except Exception as e:
                skipped[name] = f'failed: {type(e).__name__}: {str(e)[:160]}'
        lim = 'cuBLAS matmuls' if b.gpu else 'NumPy BLAS matmuls'
        out.append(b.record('mlp_step', f'784-512-512-10 batch {batch}', t, times, skipped,
                            lim, limit))
    return out


def per_example_grad(b):
    import vmap_per_example
    batch, loop_batch = b.sizes['per_example_batch'], b.sizes['loop_batch']
    sizes = (784, 512, 512, 10)
    params = models.mlp_params_numpy(b.rng, sizes)
    xs = random_input(b.rng, (batch, sizes[0]))
    ys = np.eye(10, dtype=np.float32)[b.rng.integers(0, 10, batch)]
    tj, tjnp = b.tj, b.tjnp
    tparams = [(tjnp.asarray(w), tjnp.asarray(c)) for w, c in params]
    g = tj.grad(vmap_per_example.make_loss(tjnp))
    batched = tj.jit(tj.vmap(g, in_axes=(None, 0, 0)))
    xa, ya = tjnp.asarray(xs), tjnp.asarray(ys)
    t = b.timer.measure(lambda: batched(tparams, xa, ya), block=tj.block_until_ready,
                        sync=b._tj_sync())
    one = tj.jit(g)
    rows = [(tjnp.asarray(xs[i]), tjnp.asarray(ys[i])) for i in range(loop_batch)]
    t_loop = b.timer.measure(lambda: [one(tparams, x, y) for x, y in rows],
                             block=tj.block_until_ready, sync=b._tj_sync()) / loop_batch
    times, skipped = {}, {}
    if b.peers.has('jax'):
        try:
            jax = b.peers.mods['jax']
            jg = jax.jit(jax.vmap(jax.grad(vmap_per_example.make_loss(jax.numpy)),
                                  in_axes=(None, 0, 0)))
            jp, jx, jy = jax.device_put(params), jax.device_put(xs), jax.device_put(ys)
            times['jax'] = b.timer.measure(lambda: jg(jp, jx, jy), events=False, block=block_jax)
        except Exception as e:
            skipped['jax'] = f'failed: {type(e).__name__}: {str(e)[:160]}'
    else:
        skipped['jax'] = b.peers.skipped.get('jax')
    if b.peers.has('torch'):
        try:
            torch = b.peers.mods['torch']
            tp = tuple((b.peers.put('torch', w), b.peers.put('torch', c)) for w, c in params)

            def loss_t(p, x, y):
                h = x
                for w, c in p[:-1]:
                    h = torch.tanh(h @ w + c)
                logits = h @ p[-1][0] + p[-1][1]
                logits = logits - logits.max()
                return -((logits - torch.log(torch.exp(logits).sum())) * y).sum()
            tg = torch.func.vmap(torch.func.grad(loss_t), in_dims=(None, 0, 0))
            tx, ty = b.peers.put('torch', xs), b.peers.put('torch', ys)
            times['torch.func'] = b.timer.measure(lambda: tg(tp, tx, ty),
                                                  sync=b.peers.sync('torch'))
        except Exception as e:
            skipped['torch.func'] = f'failed: {type(e).__name__}: {str(e)[:160]}'
    else:
        skipped['torch.func'] = b.peers.skipped.get('torch')
    return [b.record('per_example_grad', f'jit(vmap(grad)) batch {batch}', t, times, skipped,
                     loop_seconds_per_example=t_loop,
                     speedup_over_loop=t_loop * batch / t),
            b.record('per_example_grad', f'loop of jit(grad), per example x {batch}',
                     t_loop * batch, {}, {})]


def compile_times(b):
    """First call of the MLP step in a fresh process: cold (empty kernel cache) and warm
    (the cache the cold run filled). Peers use their own persistent caches the same way."""
    out, results = [], {}
    libs = ['tinyjax'] + [p for p in ('jax', 'torch.compile') if b.peers.has(p)]
    skipped = {p: b.peers.skipped.get(p) for p in ('jax', 'torch.compile')
               if not b.peers.has(p)}
    for lib in libs:
        with tempfile.TemporaryDirectory() as cache:
            for variant in ('cold', 'warm cache'):
                try:
                    results[(lib, variant)] = _first_call_seconds(lib, cache, b.gpu)
                except Exception as e:
                    skipped[lib] = f'failed: {type(e).__name__}: {str(e)[:160]}'
    for variant in ('cold', 'warm cache'):
        if ('tinyjax', variant) not in results:
            continue
        peers = {lib: results[(lib, variant)] for lib in libs[1:] if (lib, variant) in results}
        out.append(b.record('compile', f'MLP step first call, {variant}',
                            results[('tinyjax', variant)], peers, skipped))
    return out


def _first_call_seconds(lib, cache, gpu):
    env = dict(os.environ, TINYJAX_CACHE_DIR=cache, JAX_COMPILATION_CACHE_DIR=cache,
               TORCHINDUCTOR_CACHE_DIR=cache, PYTHONPATH=os.pathsep.join(
                   [os.path.dirname(HERE), HERE, os.environ.get('PYTHONPATH', '')]))
    env.pop('TINYJAX_NVRTC_CHECK', None)      # the tests' extra compile would skew it
    proc = subprocess.run([sys.executable, os.path.join(HERE, 'compile_child.py'), lib,
                           'gpu' if gpu else 'cpu'], env=env, capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else 'failed')
    return json.loads(proc.stdout.strip().splitlines()[-1])['seconds']


CASES = {'fused_chain': fused_chain, 'fusion_speedup': fusion_speedup, 'rowwise': rowwise,
         'full_sum': full_sum,
         'dispatch': dispatch, 'mlp_step': mlp_step, 'per_example_grad': per_example_grad,
         'compile': compile_times}
