"""The benchmark suite: tinyjax against JAX, PyTorch and CuPy, and against the device.

    python bench/run.py [--case NAME ...] [--small] [--set KEY=VALUE ...] [--json PATH] [--md PATH]
                        [--peers default|all|none|jax,torch,...] [--repeats N]

Cases: fused_chain, fusion_speedup, rowwise, full_sum, dispatch, mlp_step, per_example_grad,
compile (bench/cases.py). Each record gives tinyjax's median time, every installed peer's
time on the same inputs in the same run (the table shows peer / tinyjax: above 1 means
tinyjax is faster), and where a physical limit applies the fraction of it reached: a
device copy of the bytes the case must move, or its matmuls alone through cuBLAS (NumPy's
BLAS on the CPU). Peers that cannot run are listed as skipped with the reason.

`--small` shrinks the sizes for a quick CPU smoke run; `--set chain_n=4194304` overrides
one size. Runs on the GPU when tinyjax sees one, else on the CPU (and says so).
`--peers` picks the peers (default: all but torch.compile, whose compiles take tens of
seconds per case). Every time is the median of N repeats, with the minimum beside it and
both ratios (peer / tinyjax); a case run while the machine was busy (1-minute load
average at or above half the usable CPUs before or after it) gets a note, since a
shared machine moves medians far more than minima. The JSON (and markdown) are written
again after every case, so a run cut short keeps what it measured.
"""
import argparse
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))     # the checkout's tinyjax when not installed
sys.path.insert(0, HERE)

import cases  # noqa: E402
from peers import Peers, Timer, parse_peers  # noqa: E402


def parse_sizes(base, overrides):
    sizes = dict(base)
    for item in overrides or []:
        k, _, v = item.partition('=')
        if k not in sizes:
            raise SystemExit(f'--set: unknown size {k!r}; known: {", ".join(sizes)}')
        sizes[k] = tuple(int(x) for x in v.split(',')) if isinstance(sizes[k], tuple) else int(v)
    return sizes


def environment(gpu, peers):
    import numpy as np
    import tinyjax
    from tinyjax.profiler import roofline
    info = roofline.device_info(tinyjax.devices()[0])
    versions = {'tinyjax': tinyjax.__version__, 'python': platform.python_version(),
                'numpy': np.__version__}
    for k in ('cupy', 'cuda_runtime', 'nvrtc'):
        if k in info:
            versions[k] = info[k]
    versions.update(peers.versions)
    return {'date': time.strftime('%Y-%m-%d %H:%M:%S %Z'),
            'device': info['name'] if gpu else f'CPU ({roofline.cpu_model()})',
            'platform': 'gpu' if gpu else 'cpu',
            'driver': info.get('driver'),
            'machine': {'cpu': roofline.cpu_model(), 'threads': os.cpu_count(),
                        'os': platform.platform()},
            'versions': versions}


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_note(before, after):
    """A note when the machine was busy around a case, else None."""
    cpus = usable_cpus()
    worst = max(before, after)
    if worst >= cpus / 2:
        return (f'busy machine: load average {before:.1f} before, {after:.1f} after on '
                f'{cpus} CPUs (compare minima)')
    return None


def fmt_s(s):
    if s is None:
        return '-'
    for unit, f in (('s', 1), ('ms', 1e3), ('µs', 1e6)):
        if s >= 1 / f:
            return f'{s * f:.3g} {unit}'
    return f'{s * 1e9:.3g} ns'


def pct(fraction):
    p = 100 * fraction
    return f'{p:.2g}%' if p < 10 else f'{p:.0f}%'


def markdown(result):
    recs = result['records']
    peer_names = []
    for r in recs:
        for p in r['peers']:
            if p not in peer_names:
                peer_names.append(p)
    lines = [f'# tinyjax benchmark — {result["platform"].upper()}', '',
             f'- date: {result["date"]}', f'- device: {result["device"]}'
             + (f' (driver {result["driver"]})' if result.get('driver') else ''),
             f'- machine: {result["machine"]["cpu"]}, {result["machine"]["threads"]} threads, '
             f'{result["machine"]["os"]}',
             '- versions: ' + ', '.join(f'{k} {v}' for k, v in result['versions'].items()),
             f'- sizes: {"small (smoke run)" if result["small"] else "full"}: '
             + ', '.join(f'{k}={v}' for k, v in result['sizes'].items()), '',
             'Peer columns: peer time / tinyjax time from the medians of the repeats (above 1: '
             "tinyjax is faster), the same from the minima, then the peer's own median time. "
             "% of limit: the physical limit's time over tinyjax's.", '']
    if result['platform'] == 'cpu':
        lines[-1:] = ['', '**CPU run: these are host timings, not GPU numbers.** On the CPU '
                        'tinyjax runs its generated kernels as C++ built by g++ calling glibc\'s '
                        'scalar math functions, big ones split over the cores (the CPU path exists to '
                        'execute the same code as the GPU), so NumPy\'s SIMD loops usually '
                        'win; a shared VM also makes timings noisy.', '', '']
    head = ['case', 'variant', 'tinyjax', '% of limit'] + peer_names + ['notes']
    lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in recs:
        lim = (f'{pct(r["fraction_of_limit"])} of {r["limit"]}'
               if r.get('fraction_of_limit') else '-')
        cells = [r['case'], r['variant'], fmt_s(r['seconds']), lim]
        for p in peer_names:
            t = r['peers'].get(p)
            best = r.get('ratios_min', {}).get(p)
            cells.append(f'{t / r["seconds"]:.2f}×' + (f' / min {best:.2f}×' if best else '')
                         + f' ({fmt_s(t)})' if t else
                         ('skipped' if p in r.get('skipped', {}) else '-'))
        notes = []
        if r.get('load_note'):
            notes.append(r['load_note'])
        if 'speedup' in r:
            notes.append(f'unfused {fmt_s(r["unfused_seconds"])} ({r["kernels_unfused"]} '
                         f'kernels): speedup {r["speedup"]:.2f}× vs bytes ratio '
                         f'{r["bytes_ratio"]:.2f}×')
        if 'speedup_over_loop' in r:
            notes.append(f'loop of jit(grad) / vmap: {r["speedup_over_loop"]:.2f}×')
        cells.append('; '.join(notes))
        lines.append('| ' + ' | '.join(cells) + ' |')
    if result['skipped']:
        lines += ['', 'Skipped peers:']
        lines += [f'- {p}: {why}' for p, why in result['skipped'].items()]
    return '\n'.join(lines) + '\n'


def main(argv=None):
    ap = argparse.ArgumentParser(prog='python bench/run.py', description=__doc__.split('\n')[0])
    ap.add_argument('--case', nargs='+', action='extend', choices=list(cases.CASES),
                    help='cases to run (default: all)')
    ap.add_argument('--small', action='store_true', help='small sizes: a quick smoke run')
    ap.add_argument('--set', nargs='+', action='extend', metavar='KEY=VALUE',
                    help='override a size (see bench/cases.py SIZES)')
    ap.add_argument('--json', metavar='PATH', help='write the results as JSON')
    ap.add_argument('--md', metavar='PATH', help='write the markdown table here too')
    ap.add_argument('--repeats', type=int, default=None, help='timed repeats per measurement')
    ap.add_argument('--peers', default='default',
                    help="comma list of peers (jax, torch, torch.compile, cupy, cupy.fuse, "
                         "numpy), or default (all but torch.compile), all, none")
    args = ap.parse_args(argv)

    import tinyjax
    gpu = tinyjax.default_backend() == 'gpu'
    sizes = parse_sizes(cases.SIZES['small' if args.small else 'full'], args.set)
    peers = Peers(gpu, wanted=parse_peers(args.peers))
    timer = Timer(gpu, min_seconds=0.01 if args.small else 0.05,
                  repeats=args.repeats or (5 if args.small else 11))
    bench = cases.Bench(peers, timer, sizes, gpu)
    result = environment(gpu, peers)
    result.update(small=args.small, sizes=sizes, records=[], skipped={}, cpus=usable_cpus())
    md = args.md or (os.path.splitext(args.json)[0] + '.md' if args.json else None)
    for name in args.case or list(cases.CASES):
        t = time.perf_counter()
        print(f'[bench] {name} ...', file=sys.stderr, flush=True)
        before = os.getloadavg()[0]
        records = cases.CASES[name](bench)
        after = os.getloadavg()[0]
        note = load_note(before, after)
        for r in records:
            r.update(load_before=before, load_after=after)
            if note:
                r['load_note'] = note
        result['records'] += records
        result['skipped'] = {p: why for p, why in peers.skipped.items()}
        write(result, args.json, md)       # after every case: a timeout loses nothing
        print(f'[bench] {name} done in {time.perf_counter() - t:.1f}s', file=sys.stderr)
    print(markdown(result))
    return result


def write(result, json_path, md_path):
    for path in (json_path, md_path):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if json_path:
        with open(json_path + '.tmp', 'w') as f:
            json.dump(result, f, indent=1)
        os.replace(json_path + '.tmp', json_path)
    if md_path:
        with open(md_path, 'w') as f:
            f.write(markdown(result))


if __name__ == '__main__':
    main()
