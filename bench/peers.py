"""The libraries tinyjax is measured against, and the timer they all share.

A peer is used only when it is installed and can run on the device the benchmark runs
on (a GPU run needs JAX with CUDA, PyTorch with CUDA, CuPy; a CPU run uses JAX and
PyTorch on the CPU, and NumPy as the eager baseline). Every peer that cannot run is
named in `Peers.skipped` with the reason, and the report lists it.

Timing (`measure`): warm-up calls (compilation, autotuning, allocator warm-up), then an
inner loop long enough to dwarf the timer's resolution, repeated; the median of the
repeats divided by the inner count (the minimum and N are kept too: `Sample`). On a GPU, libraries that queue on the legacy default
stream or a blocking stream (tinyjax, CuPy, PyTorch) are timed with CUDA events around
the inner loop; JAX runs on its own non-blocking streams, so it is timed by the wall
clock around the loop plus block_until_ready. Both measure back-to-back throughput, the
same quantity.
"""
import importlib
import statistics
import time

import numpy as np


ALL = ('jax', 'torch', 'torch.compile', 'cupy', 'cupy.fuse', 'numpy')
# torch.compile's first call compiles for tens of seconds per case: asked for by name only.
DEFAULT = tuple(p for p in ALL if p != 'torch.compile')


def parse_peers(text):
    """--peers: 'default', 'all', 'none' or a comma list of names from ALL."""
    if text in (None, 'default'):
        return DEFAULT
    if text == 'all':
        return ALL
    if text == 'none':
        return ()
    names = tuple(p.strip() for p in text.split(',') if p.strip())
    unknown = [p for p in names if p not in ALL]
    if unknown:
        raise SystemExit(f'--peers: unknown peer(s) {", ".join(unknown)}; known: '
                         f'{", ".join(ALL)} (or default, all, none)')
    return names


class Peers:
    def __init__(self, gpu, wanted=None):
        self.gpu, self.mods, self.skipped = gpu, {}, {}
        self.versions = {}
        for name in ALL:
            if wanted is not None and name not in wanted:
                self.skipped[name] = 'not asked for (--peers)'
                continue
            reason = self._probe(name)
            if reason:
                self.skipped[name] = reason

    def _probe(self, name):
        if name == 'numpy':
            if self.gpu:
                return 'CPU library (GPU run)'
            self.mods['numpy'] = np
            return None
        base = name.split('.')[0]
        try:
            mod = importlib.import_module(base)
        except Exception as e:
            return f'not installed ({type(e).__name__})'
        self.versions[base] = getattr(mod, '__version__', '?')
        if base == 'jax':
            backend = mod.default_backend()
            if self.gpu and backend != 'gpu':
                return f'JAX has no GPU backend here (default backend: {backend})'
        elif base == 'torch':
            if self.gpu and not mod.cuda.is_available():
                return 'PyTorch was built without CUDA or sees no GPU'
            if name == 'torch.compile' and not hasattr(mod, 'compile'):
                return 'torch.compile needs PyTorch >= 2.0'
        elif base == 'cupy':
            if not self.gpu:
                return 'no GPU'
        self.mods[name] = mod
        return None

    def has(self, name):
        return name in self.mods

    def skip(self, name, why):
        """A peer that failed in one case (e.g. torch.compile could not compile it)."""
        self.skipped.setdefault(name, why)

    # -- inputs ----------------------------------------------------------------------------
    def put(self, name, x):
        """The numpy array `x` as an array of peer `name` on the benchmark's device."""
        if name == 'numpy':
            return x
        if name.startswith('jax'):
            import jax
            return jax.device_put(x)
        if name.startswith('torch'):
            import torch
            t = torch.from_numpy(np.ascontiguousarray(x))
            return t.cuda() if self.gpu else t
        if name.startswith('cupy'):
            import cupy
            return cupy.asarray(x)
        raise KeyError(name)

    def sync(self, name):
        """A function that waits for the peer's queued work."""
        if name.startswith('torch') and self.gpu:
            import torch
            return torch.cuda.synchronize
        if name.startswith('cupy'):
            import cupy
            return cupy.cuda.get_current_stream().synchronize
        return lambda: None


def block_jax(out):
    import jax
    return jax.block_until_ready(out)


class Timer:
    def __init__(self, gpu, min_seconds=0.02, repeats=7, warmup=3):
        self.gpu, self.min_seconds, self.repeats, self.warmup = gpu, min_seconds, repeats, warmup

    def measure(self, fn, sync=lambda: None, events=True, block=None, best=False):
        """Median seconds per call of fn(). `block(out)` waits for an output (JAX, tinyjax);
        `sync()` waits for the library's queue; `events` picks CUDA events on a GPU.
        best=True takes the fastest repeat instead: for a limit, the best is the limit."""
        def wait(out):
            if block is not None:
                block(out)
            sync()
        for _ in range(self.warmup):
            wait(fn())
        t = time.perf_counter()
        wait(fn())
        once = max(time.perf_counter() - t, 1e-7)
        inner = max(1, min(10000, int(self.min_seconds / once)))
        use_events = self.gpu and events
        if use_events:
            import cupy
        samples = []
        for _ in range(self.repeats):
            if use_events:
                a, b = cupy.cuda.Event(), cupy.cuda.Event()
                a.record(cupy.cuda.Stream.null)
                for _ in range(inner):
                    out = fn()
                # The legacy default stream orders after all blocking streams (tinyjax's
                # device stream, torch's and cupy's default), so b completes when they do.
                b.record(cupy.cuda.Stream.null)
                b.synchronize()
                wait(out)
                samples.append(cupy.cuda.get_elapsed_time(a, b) * 1e-3 / inner)
            else:
                t = time.perf_counter()
                for _ in range(inner):
                    out = fn()
                wait(out)
                samples.append((time.perf_counter() - t) / inner)
        return Sample(samples, best)


class Sample(float):
    """Seconds per call from N timed repeats: the median (or, with best=True, the
    minimum) as the float itself, both kept as attributes for the record."""

    def __new__(cls, samples, best=False):
        median, fastest = statistics.median(samples), min(samples)
        self = super().__new__(cls, fastest if best else median)
        self.min, self.median, self.n = fastest, median, len(samples)
        return self


def random_input(rng, shape, dtype=np.float32):
    """Standard normal values: never all zeros (no shortcut a library could take)."""
    return rng.standard_normal(shape, dtype=np.float32).astype(dtype)
