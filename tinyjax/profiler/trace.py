"""JAX's trace API: record every kernel launched between start_trace and stop_trace.

    with tinyjax.profiler.trace('/tmp/tj-trace'):
        step(params, x)             # every compiled step launched here is recorded

The result is a Chrome-trace JSON file (open it in ui.perfetto.dev or chrome://tracing):
one complete event per launch, on one row per device, with device time from CUDA
events on a GPU and wall time on the CPU. `TraceAnnotation` / `annotate_function` add
named host-side spans. Like JAX's, a log_dir gets `plugins/profile/<timestamp>/`; a path
ending in `.json` is used as the file itself.
"""
import contextlib
import functools
import os
import socket
import time

from tinyjax.profiler.report import launch_events
from tinyjax.profiler.timing import Recorder
import json

_active = None


class _Session:
    def __init__(self, log_dir):
        self.log_dir = str(log_dir)
        self.recorder = Recorder()
        self.annotations = []       # (name, start s, duration s) on the host timeline

    def path(self):
        if self.log_dir.endswith('.json'):
            os.makedirs(os.path.dirname(os.path.abspath(self.log_dir)), exist_ok=True)
            return self.log_dir
        d = os.path.join(self.log_dir, 'plugins', 'profile', time.strftime('%Y_%m_%d_%H_%M_%S'))
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, f'{socket.gethostname()}.trace.json')


def start_trace(log_dir, create_perfetto_link=False, create_perfetto_trace=False):
    """Start recording launches; `stop_trace()` writes them. One trace at a time."""
    global _active
    if _active is not None:
        raise RuntimeError('Profile has already been started. Only one profile may be run '
                           'at a time.')
    _active = _Session(log_dir)
    _active.recorder.__enter__()


def stop_trace():
    """Stop recording and write the Chrome trace; returns the file's path."""
    global _active
    if _active is None:
        raise RuntimeError('No profile started')
    session, _active = _active, None
    session.recorder.stop()
    path = session.path()
    write_chrome_trace(path, session.recorder.launches, session.annotations)
    return path


@contextlib.contextmanager
def trace(log_dir, create_perfetto_link=False, create_perfetto_trace=False):
    """Context manager form of start_trace / stop_trace."""
    start_trace(log_dir)
    try:
        yield
    finally:
        stop_trace()


def write_chrome_trace(path, launches, annotations=()):
    devices = {}
    for ln in launches:
        devices.setdefault(id(ln.program.device), ln.program.device)
    pid_of = {d: i for i, d in enumerate(devices, 1)}
    events = []
    for d, pid in pid_of.items():
        events.append(dict(name='process_name', ph='M', pid=pid, tid=0,
                           args={'name': f'{devices[d]!r} kernels'}))
    by_device = {}
    for ln in launches:
        by_device.setdefault(id(ln.program.device), []).append(ln)
    for d, lns in by_device.items():
        events.extend(launch_events(lns, pid_of[d], 0))
    if annotations:
        events.append(dict(name='process_name', ph='M', pid=0, tid=0, args={'name': 'host'}))
    for name, start, dur in annotations:
        events.append(dict(name=name, cat='annotation', ph='X', pid=0, tid=0,
                           ts=start * 1e6, dur=dur * 1e6))
    with open(path, 'w') as f:
        json.dump({'traceEvents': events, 'displayTimeUnit': 'ns'}, f)
    return path


class TraceAnnotation:
    """A named host-side span in the active trace (a no-op when none is active)."""

    def __init__(self, name, **kwargs):
        self.name = name

    def __enter__(self):
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        s = _active
        if s is not None:
            t = time.perf_counter()
            s.annotations.append((self.name, self._t - s.recorder.host_origin, t - self._t))


StepTraceAnnotation = TraceAnnotation


def annotate_function(func=None, name=None, **kwargs):
    """Decorator: each call of `func` is a TraceAnnotation span named after it."""
    if func is None:
        return functools.partial(annotate_function, name=name, **kwargs)

    @functools.wraps(func)
    def wrapper(*args, **kw):
        with TraceAnnotation(name or getattr(func, '__qualname__', 'function')):
            return func(*args, **kw)
    return wrapper
