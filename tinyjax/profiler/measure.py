"""profile(f, *args): run f compiled with fusion and without, time every kernel.

Each side is a fresh jit of the same Python function (fusion on, and fuse=False: one
kernel per primitive), so the two share nothing but the function and the inputs. After
warm-up (the first call compiles), a side is timed twice: whole calls (what a user
waits for, dispatch included), then each step of the Program through the step hook
(device time from CUDA events on a GPU, wall time on the CPU). The two runs are apart so
that recording steps never inflates the per-call figure.
"""
import math
import time

import numpy as np

from tinyjax import tree_util
from tinyjax.core.ir import Var
from tinyjax.ops.precision import allows_tf32
from tinyjax.profiler import roofline as _roofline
from tinyjax.profiler.report import KernelRow, Report, Side
from tinyjax.profiler.timing import Recorder, clock_for, median, step_name
from tinyjax.transforms.jit import JitFunction, jit

TARGET_SECONDS = 0.25     # adaptive repeat: about this much time per timed pass


def profile(f, *args, **kwargs):
    """Profile `f(*args, **kwargs)` fused against unfused; returns a Report.

    `f` may be a plain function or a jitted one (its static arguments are kept; donation
    is dropped, because profiling calls it many times on the same inputs). Options:
    `profile_call(f, args, kwargs, warmup=, repeat=, unfused=)`."""
    return profile_call(f, args, kwargs)


def profile_call(f, args=(), kwargs=None, *, warmup=2, repeat=None, unfused=True, name=None):
    kwargs = kwargs or {}
    name = name or getattr(getattr(f, 'fun', f), '__name__', repr(f))
    sides = [measure_side(rejit(f, True), args, kwargs, warmup, repeat, 'fused')]
    if unfused:
        sides.append(measure_side(rejit(f, False), args, kwargs, warmup, repeat, 'unfused'))
    dev = sides[0].program.device
    return Report(name, _roofline.device_info(dev), _roofline.roofline(dev),
                  _roofline.header_lines(dev), *sides, warmup=warmup)


def rejit(f, fuse):
    """A fresh jit of what `f` computes, with fusion on or off."""
    if isinstance(f, JitFunction):
        return JitFunction(f.fun, f.static_argnums, f.static_argnames, (), (), fuse,
                           f._device, None)
    return jit(f, fuse=fuse)


def block(tree):
    for leaf in tree_util.tree_leaves(tree):
        if hasattr(leaf, 'block_until_ready'):
            leaf.block_until_ready()
    return tree


def measure_side(jitted, args, kwargs, warmup, repeat, label):
    for _ in range(max(warmup, 1)):         # at least one: the first call compiles
        block(jitted(*args, **kwargs))
    program = jitted.lower(*args, **kwargs).program
    clock = clock_for(program.device)
    if repeat is None:
        t = time.perf_counter()
        block(jitted(*args, **kwargs))
        once = time.perf_counter() - t
        repeat = int(min(100, max(5, TARGET_SECONDS / max(once, 1e-9))))
    calls = []
    for _ in range(repeat):
        clock.synchronize()
        a = clock.mark()
        out = jitted(*args, **kwargs)
        b = clock.mark()
        calls.append(clock.seconds(a, b))
    block(out)
    with Recorder(only=program) as rec:
        for _ in range(repeat):
            jitted(*args, **kwargs)
        clock.synchronize()
    times = [[] for _ in program.steps]
    for ln in rec.launches:
        times[ln.step].append(ln.seconds)
    rows = [step_row(program, i, times[i]) for i in range(len(program.steps))]
    return Side(label, program, rows, median(calls), repeat, rec.launches)


def step_row(program, i, seconds):
    s = program.steps[i]
    if s.kind == 'kernel':
        k = s.kernel
        return KernelRow(k.name, k.kind, list(k.prims), len(seconds), median(seconds),
                         k.bytes_read, k.bytes_written, k.flops, tuple(k.shape))
    e = s.eqn
    read = sum(nbytes(v) for v in e.inputs if isinstance(v, Var))
    written = sum(nbytes(v) for v in e.outputs)
    flops, precision = 0, None
    if s.kind == 'dot':
        flops = dot_flops(e)
        lhs, rhs = (v.aval.dtype for v in e.inputs)
        tf32 = program.device.platform == 'gpu' and allows_tf32(e.params['precision'], lhs, rhs)
        precision = _roofline.precision_for(e.outputs[0].aval.dtype, tf32)
    return KernelRow(step_name(program, i), s.kind, [e.prim.name], len(seconds),
                     median(seconds), read, written, flops, tuple(e.outputs[0].aval.shape),
                     precision)


def nbytes(v):
    return v.aval.size * np.dtype(v.aval.dtype).itemsize


def dot_flops(eqn):
    """2 * (output elements) * (contracted length): a multiply and an add for each term."""
    (lc, _), _ = eqn.params['dimension_numbers']
    lhs = eqn.inputs[0].aval.shape
    return 2 * math.prod(eqn.outputs[0].aval.shape) * math.prod(lhs[d] for d in lc)
