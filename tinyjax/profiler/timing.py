"""Timing launches: device timers and the recorder behind the Program's step hook.

On a GPU a step is timed by two CUDA events recorded on the stream the kernels run on
(cupy's current stream), so the time is the device's, not Python's; the events are
read only when a recording is resolved, never in the launch loop, so timing does not
serialise the program. On the CPU every step runs synchronously and wall time
(`time.perf_counter`) is the step's time.

Several recorders may listen at once (a `profile()` inside a `trace()`); one dispatcher
is installed as `program.step_hook` while any is active and removed with the last.
"""
import time

from tinyjax.compiler import program as _program


class WallClock:
    """Host timer for the CPU: a mark is a perf_counter reading in seconds."""
    is_device = False

    def mark(self):
        return time.perf_counter()

    def seconds(self, a, b):
        return b - a

    def origin(self):
        """(mark, host seconds) taken together: maps marks onto the host's timeline."""
        t = time.perf_counter()
        return t, t

    def offset(self, origin, m):
        return m - origin[0]

    def synchronize(self):
        pass


class CudaClock:
    """CUDA events on the stream the device's programs run on (its own stream where the
    backend gives it one, else CuPy's current stream); seconds between two marks come
    from cudaEventElapsedTime (resolution about 0.5 us)."""
    is_device = True

    def __init__(self, device):
        import cupy  # lazy: CuPy is optional (GPU only)
        self._cp, self._device = cupy, device
        self._gpu = cupy.cuda.Device(getattr(device, 'physical_id', device.id))

    def mark(self):
        with self._gpu:
            e = self._cp.cuda.Event()
            e.record(getattr(self._device, 'stream', None))
        return e

    def seconds(self, a, b):
        b.synchronize()
        return self._cp.cuda.get_elapsed_time(a, b) * 1e-3

    def origin(self):
        e = self.mark()
        e.synchronize()
        return e, time.perf_counter()

    def offset(self, origin, m):
        return self.seconds(origin[0], m)

    def synchronize(self):
        self._device.synchronize()


_clocks = {}


def clock_for(device):
    """The timer for a tinyjax device (one per device, reused)."""
    c = _clocks.get(id(device))
    if c is None:
        c = _clocks[id(device)] = CudaClock(device) if device.platform == 'gpu' else WallClock()
    return c


class Launch:
    """One timed step of one Program call: `start` is seconds since the recorder's
    origin on the host timeline, `seconds` its duration (device time on a GPU)."""
    __slots__ = ('program', 'step', 'start', 'seconds')

    def __init__(self, program, step, start, seconds):
        self.program, self.step, self.start, self.seconds = program, step, start, seconds

    @property
    def name(self):
        return step_name(self.program, self.step)


def step_name(program, i):
    s = program.steps[i]
    if s.kind == 'kernel':
        return s.kernel.name
    return f'{"d" if s.kind == "dot" else "o"}{i}_{s.eqn.prim.name}'


class Recorder:
    """Collects every step launched while it is active. `only` restricts it to one
    Program. Marks are kept raw and turned into seconds in `resolve()` (or every
    `flush_every` launches, to bound the number of live CUDA events in a long run)."""

    def __init__(self, only=None, flush_every=8192):
        self.only, self.flush_every = only, flush_every
        self.launches, self._pending, self._origins = [], [], {}
        self.host_origin = time.perf_counter()

    def __enter__(self):
        _listeners.append(self)
        _program.step_hook = _dispatch
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self in _listeners:
            _listeners.remove(self)
        if not _listeners:
            _program.step_hook = None
        self.resolve()

    def add(self, program, i, clock, start, end):
        if self.only is not None and program is not self.only:
            return
        if clock not in self._origins:
            mark, host_t = clock.origin()
            self._origins[clock] = (mark, host_t - self.host_origin)
        self._pending.append((program, i, clock, start, end))
        if len(self._pending) >= self.flush_every:
            self.resolve()

    def resolve(self):
        """Read every pending mark; returns the list of Launch records so far."""
        for program, i, clock, start, end in self._pending:
            origin = self._origins[clock]
            self.launches.append(Launch(program, i, origin[1] + clock.offset(origin, start),
                                        clock.seconds(start, end)))
        self._pending.clear()
        return self.launches


_listeners = []


class _Dispatch:
    """What program.step_hook points at while any Recorder listens."""

    def begin(self, device):
        clock = clock_for(device)
        return clock, clock.mark()

    def end(self, program, i, mark):
        clock, start = mark
        end = clock.mark()
        for r in _listeners:
            r.add(program, i, clock, start, end)


_dispatch = _Dispatch()


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if not n:
        return float('nan')
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])
