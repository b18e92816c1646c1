"""python -m tinyjax.profile [options] script.py [args...]

Runs a script (like `python -m cProfile`) and, when it exits, prints a profile report
for every jitted function it called, once per argument signature: each kernel's time,
bytes moved, bandwidth and fraction of the device's limits. Options:

  --unfused        also compile each function without fusion and compare (speedup,
                   bytes saved)
  --trace FILE     record every kernel launched during the script into a Chrome trace
  --json FILE      write all the reports as JSON
  --warmup N, --repeat N   calls before timing, timed calls (default: adaptive)

The functions are re-run after the script ends, on the arguments of their first call
(copied first when the function donates them), so the script's own timing is untouched.
"""
import argparse
import json
import os
import runpy
import sys

from tinyjax import tree_util, profiler
from tinyjax.core import trace as core_trace
from tinyjax.core.array import Array
from tinyjax.transforms.jit import JitFunction
from tinyjax.profiler.report import format_time


class CallLog:
    """Every jitted function the script calls, once per traced signature, with its
    first arguments and a count of calls."""

    def __init__(self):
        self.entries = {}            # (id(jit function), id(trace entry)) -> record
        self._original = None

    def install(self):
        original = self._original = JitFunction.__call__
        log = self

        def recording_call(jitfn, *args, **kwargs):
            log.note(jitfn, args, kwargs)
            return original(jitfn, *args, **kwargs)
        JitFunction.__call__ = recording_call

    def uninstall(self):
        if self._original is not None:
            JitFunction.__call__ = self._original
            self._original = None

    def note(self, jitfn, args, kwargs):
        try:
            if any(isinstance(x, core_trace.Tracer) for x in tree_util.tree_leaves((args, kwargs))):
                return           # inlined into an enclosing trace: not a call of its own
            entry = jitfn._prepare(args, kwargs)[0]
        except Exception:
            return               # the real call will raise the error itself
        if not entry.cacheable:
            return
        key = (id(jitfn), id(entry))
        rec = self.entries.get(key)
        if rec is None:
            if jitfn._donate_pos:    # the call may consume its inputs: keep copies
                args, kwargs = tree_util.tree_map(
                    lambda a: a.copy() if isinstance(a, Array) else a, (args, kwargs))
            rec = self.entries[key] = {'fn': jitfn, 'entry': entry, 'args': args,
                                       'kwargs': kwargs, 'calls': 0}
        rec['calls'] += 1


def signature(entry):
    return ', '.join(a.str_short() for a in entry.graph.in_avals) if hasattr(
        entry.graph, 'in_avals') else ', '.join(v.aval.str_short() for v in entry.graph.invars)


def run_script(path, argv):
    sys.argv = [path] + list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        runpy.run_path(path, run_name='__main__')
        return 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)


def main(argv=None):
    ap = argparse.ArgumentParser(prog='python -m tinyjax.profile',
                                 description='Profile every jitted function a script calls.')
    ap.add_argument('--unfused', action='store_true', help='compare with one kernel per primitive')
    ap.add_argument('--trace', metavar='FILE', help='write a Chrome trace of every launch')
    ap.add_argument('--json', metavar='FILE', help='write the reports as JSON')
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--repeat', type=int, default=None)
    ap.add_argument('script')
    ap.add_argument('args', nargs=argparse.REMAINDER)
    opts = ap.parse_args(argv)
    if not os.path.exists(opts.script):
        ap.error(f'no such script: {opts.script}')

    log = CallLog()
    log.install()
    if opts.trace:
        profiler.start_trace(opts.trace if opts.trace.endswith('.json') else opts.trace + '.json')
    try:
        code = run_script(opts.script, opts.args)
    finally:
        log.uninstall()
        trace_path = profiler.stop_trace() if opts.trace else None

    reports = []
    for rec in log.entries.values():
        name = getattr(rec['fn'].fun, '__qualname__', repr(rec['fn']))
        rep = profiler.profile_call(rec['fn'], rec['args'], rec['kwargs'], warmup=opts.warmup,
                                    repeat=opts.repeat, unfused=opts.unfused,
                                    name=f'{name}({signature(rec["entry"])})')
        rep.calls = rec['calls']
        reports.append(rep)
    out = sys.stdout
    print(f'\n===== tinyjax.profile: {len(reports)} jitted function signature(s) called by '
          f'{opts.script} =====', file=out)
    if reports:
        print(summary_table(reports), file=out)
    for rep in reports:
        print('\n' + str(rep), file=out)
    if trace_path:
        print(f'\nChrome trace of every launch: {trace_path} (open in ui.perfetto.dev)', file=out)
    if opts.json:
        with open(opts.json, 'w') as f:
            json.dump([r.as_dict() for r in reports], f, indent=1, default=str)
        print(f'reports written to {opts.json}', file=out)
    return code


def summary_table(reports):
    rows = sorted(reports, key=lambda r: -r.calls * r.fused.call_seconds)
    lines = [f'  {"calls":>6} {"per call":>10} {"est. total":>10} {"kernels":>7}  function']
    for r in rows:
        lines.append(f'  {r.calls:>6} {format_time(r.fused.call_seconds):>10} '
                     f'{format_time(r.calls * r.fused.call_seconds):>10} '
                     f'{len(r.fused.rows):>7}  {r.name}')
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
