"""The profile report: a table per side (fused, unfused), totals, and what fusion saved.

Bytes are what each kernel must move at least (every input read once, every output
written once, from the compiler's accounting), so GB/s here is "useful" bandwidth and
its fraction of the measured copy bandwidth says how close the kernel came to the
memory limit. FLOPs are counted for matmuls (2*m*n*k) and for the arithmetic of fused
elementwise kernels; the fraction of peak is shown for matmuls only.
"""
import json

from tinyjax.profiler.timing import step_name


class KernelRow:
    def __init__(self, name, kind, prims, launches, seconds, bytes_read, bytes_written,
                 flops, shape, precision=None):
        self.name, self.kind, self.prims, self.launches = name, kind, prims, launches
        self.seconds, self.bytes_read, self.bytes_written = seconds, bytes_read, bytes_written
        self.flops, self.shape, self.precision = flops, shape, precision

    @property
    def bytes(self):
        return self.bytes_read + self.bytes_written

    @property
    def bandwidth(self):
        """Achieved bytes (read + written) per second."""
        return self.bytes / self.seconds if self.seconds > 0 else float('nan')

    @property
    def flop_rate(self):
        return self.flops / self.seconds if self.seconds > 0 else float('nan')

    def as_dict(self, roof):
        d = dict(name=self.name, kind=self.kind, prims=self.prims, shape=list(self.shape),
                 launches=self.launches, seconds=self.seconds, bytes_read=self.bytes_read,
                 bytes_written=self.bytes_written, flops=self.flops,
                 gb_per_s=self.bandwidth / 1e9,
                 fraction_of_copy_bandwidth=self.bandwidth / roof['copy_bandwidth'])
        peak = self.peak(roof)
        if peak:
            d.update(precision=self.precision, fraction_of_peak_flops=self.flop_rate / peak)
        return d

    def peak(self, roof):
        if self.kind != 'dot' or not self.precision:
            return None
        return (roof.get('peak_flops') or {}).get(self.precision)


class Side:
    """One compiled variant of the function (fused or unfused) and its measurements."""

    def __init__(self, label, program, rows, call_seconds, repeat, launches):
        self.label, self.program, self.rows = label, program, rows
        self.call_seconds, self.repeat, self.launches = call_seconds, repeat, launches

    @property
    def kernel_seconds(self):
        return sum(r.seconds for r in self.rows)

    @property
    def bytes(self):
        return sum(r.bytes for r in self.rows)

    @property
    def flops(self):
        return sum(r.flops for r in self.rows)

    def as_dict(self, roof):
        return dict(label=self.label, kernels=len(self.rows), repeat=self.repeat,
                    call_seconds=self.call_seconds, kernel_seconds=self.kernel_seconds,
                    bytes=self.bytes, flops=self.flops,
                    rows=[r.as_dict(roof) for r in self.rows])


class Report:
    def __init__(self, name, info, roof, header, fused, unfused=None, warmup=0, calls=None):
        self.name, self.info, self.roofline, self.header = name, info, roof, header
        self.fused, self.unfused, self.warmup = fused, unfused, warmup
        self.calls = calls          # set by the CLI: how often the script called it

    @property
    def sides(self):
        return [s for s in (self.fused, self.unfused) if s is not None]

    @property
    def speedup(self):
        """Unfused kernel time over fused kernel time (device time on a GPU)."""
        if self.unfused is None or not self.fused.kernel_seconds:
            return None
        return self.unfused.kernel_seconds / self.fused.kernel_seconds

    @property
    def call_speedup(self):
        if self.unfused is None or not self.fused.call_seconds:
            return None
        return self.unfused.call_seconds / self.fused.call_seconds

    @property
    def bytes_saved(self):
        return None if self.unfused is None else self.unfused.bytes - self.fused.bytes

    # -- output ----------------------------------------------------------------------------
    def as_dict(self):
        return dict(function=self.name, device=self.info, roofline=self.roofline,
                    warmup=self.warmup, calls=self.calls,
                    sides={s.label: s.as_dict(self.roofline) for s in self.sides},
                    speedup=self.speedup, call_speedup=self.call_speedup,
                    bytes_saved=self.bytes_saved)

    def to_json(self, path=None, indent=1):
        text = json.dumps(self.as_dict(), indent=indent, default=_plain)
        if path is not None:
            with open(path, 'w') as f:
                f.write(text)
        return text

    def to_chrome_trace(self, path=None):
        """Chrome trace JSON (chrome://tracing, ui.perfetto.dev): one complete event per
        timed launch, each side its own process row. Returns the dict; writes it to path."""
        events = []
        for pid, side in enumerate(self.sides, 1):
            events.append(dict(name='process_name', ph='M', pid=pid, tid=0,
                               args={'name': f'{self.name} ({side.label})'}))
            events.extend(launch_events(side.launches, pid, 0))
        trace = {'traceEvents': events, 'displayTimeUnit': 'ns',
                 'otherData': {'device': self.info.get('name'), 'function': self.name}}
        if path is not None:
            with open(path, 'w') as f:
                json.dump(trace, f, default=_plain)
        return trace

    def plot(self, path):
        """A bar chart (PNG) of each kernel's median time, fused beside unfused."""
        try:
            import matplotlib  # lazy: matplotlib is optional (plots only)
            matplotlib.use('Agg')
            import matplotlib.pyplot as plt  # lazy: matplotlib is optional (plots only)
        except ImportError:
            raise ImportError("Report.plot needs matplotlib: pip install matplotlib "
                              "(or pip install 'tinyjax[examples]')") from None
        sides = self.sides
        fig, axes = plt.subplots(1, len(sides), figsize=(6 * len(sides), 1.5 + 0.3 * max(
            len(s.rows) for s in sides)), squeeze=False)
        for ax, side, color in zip(axes[0], sides, ('tab:blue', 'tab:orange')):
            names = [r.name for r in side.rows][::-1]
            us = [r.seconds * 1e6 for r in side.rows][::-1]
            ax.barh(range(len(names)), us, color=color)
            ax.set_yticks(range(len(names)), names, fontsize=7)
            ax.set_xlabel('median time per launch (us)')
            ax.set_title(f'{side.label}: {len(side.rows)} kernels, '
                         f'{side.kernel_seconds * 1e6:.1f} us')
        title = f'{self.name} on {self.info.get("name")}'
        if self.speedup:
            title += f': fusion {self.speedup:.2f}x faster'
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def __str__(self):
        return format_report(self)

    __repr__ = __str__


def launch_events(launches, pid, tid):
    out = []
    for ln in launches:
        s = ln.program.steps[ln.step]
        args = {'step': ln.step, 'kind': s.kind}
        if s.kind == 'kernel':
            k = s.kernel
            args.update(prims='+'.join(k.prims), bytes_read=k.bytes_read,
                        bytes_written=k.bytes_written, flops=k.flops)
        out.append(dict(name=step_name(ln.program, ln.step), cat=s.kind, ph='X', pid=pid,
                        tid=tid, ts=ln.start * 1e6, dur=ln.seconds * 1e6, args=args))
    return out


def _plain(x):
    try:
        return x.item()
    except AttributeError:
        return str(x)


# -- the printed table ---------------------------------------------------------------------
def format_time(s):
    if s != s:
        return '-'
    for unit, f in (('s', 1), ('ms', 1e3), ('us', 1e6)):
        if s >= 1 / f:
            return f'{s * f:.3g} {unit}'
    return f'{s * 1e9:.3g} ns'


def format_bytes(n):
    for unit, f in (('GB', 1e9), ('MB', 1e6), ('kB', 1e3)):
        if n >= f:
            return f'{n / f:.3g} {unit}'
    return f'{n} B'


def _fuses(prims, width=34):
    s = '+'.join(prims)
    return s if len(s) <= width else s[:width - 6] + f'…({len(prims)})'


def format_side(side, roof, max_rows=25):
    copy = roof['copy_bandwidth']
    lines = [f'{side.label}: {len(side.rows)} kernel(s); per call {format_time(side.call_seconds)}'
             f' (kernels {format_time(side.kernel_seconds)}), {format_bytes(side.bytes)} moved, '
             f'{side.flops:,} flops; median of {side.repeat} calls']
    head = (f'  {"kernel":<22} {"fuses":<34} {"launch":>6} {"time":>9} {"bytes":>9} '
            f'{"GB/s":>8} {"%copy":>6} {"GFLOP/s":>8} {"%peak":>6}')
    lines += [head, '  ' + '-' * (len(head) - 2)]
    rows = side.rows
    if len(rows) > max_rows:        # a long program: the costliest kernels, then the rest summed
        rows = sorted(rows, key=lambda r: -r.seconds)[:max_rows]
        lines[0] += f'; the {max_rows} slowest shown'
    for r in rows:
        peak = r.peak(roof)
        flop = f'{r.flop_rate / 1e9:8.1f}' if r.flops else f'{"":>8}'
        pct = f'{100 * r.flop_rate / peak:5.1f}%' if peak else f'{"":>6}'
        lines.append(f'  {r.name[:22]:<22} {_fuses(r.prims):<34} {r.launches:>6} '
                     f'{format_time(r.seconds):>9} {format_bytes(r.bytes):>9} '
                     f'{r.bandwidth / 1e9:8.2f} {100 * r.bandwidth / copy:5.1f}% {flop} {pct}')
    rest = side.rows[len(rows):] if rows is side.rows else [r for r in side.rows if r not in rows]
    if rest:
        lines.append(f'  ... {len(rest)} more kernel(s): {format_time(sum(r.seconds for r in rest))}, '
                     f'{format_bytes(sum(r.bytes for r in rest))} (all in report.to_json())')
    return lines


def format_report(rep):
    what = 'fused vs unfused' if rep.unfused is not None else 'fused'
    lines = [f'tinyjax profile: {rep.name} ({what}; {rep.warmup} warm-up call(s)'
             + (f'; called {rep.calls} time(s) by the script' if rep.calls else '') + ')']
    lines += rep.header
    clock = 'device time (CUDA events)' if rep.info.get('platform') == 'gpu' else 'wall time'
    lines.append(f'times: median per launch, {clock}')
    for side in rep.sides:
        lines.append('')
        lines += format_side(side, rep.roofline)
    if rep.unfused is not None:
        u, f = rep.unfused, rep.fused
        saved = rep.bytes_saved
        pct = f' ({100 * saved / u.bytes:.0f}% of the unfused traffic)' if u.bytes else ''
        lines += ['', f'fusion: {len(u.rows)} -> {len(f.rows)} kernels; '
                      f'{rep.speedup:.2f}x less kernel time, {rep.call_speedup:.2f}x per call; '
                      f'saved {format_bytes(saved)} of memory traffic{pct}']
    return '\n'.join(lines)
