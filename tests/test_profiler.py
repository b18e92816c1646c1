"""tinyjax.profiler, python -m tinyjax.profile and bench/run.py (CPU; a GPU test at the end)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import profiler
from tinyjax.compiler import program as program_mod

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([ROOT, env.get('PYTHONPATH', '')])
    return env


@pytest.fixture(scope='module')
def axpb_report():
    x = jnp.asarray(np.linspace(-1, 1, 1000, dtype=np.float32))
    return profiler.profile_call(lambda x: x * 2 + 1, (x,), repeat=5)


def test_bytes_of_a_fused_elementwise_program(axpb_report):
    rep = axpb_report
    (row,) = rep.fused.rows
    assert (row.bytes_read, row.bytes_written) == (4000, 4000)
    assert row.prims == ['mul', 'add'] and row.launches == 5 and row.seconds > 0
    # unfused: one kernel per primitive, each reading and writing 1000 floats
    assert [r.prims for r in rep.unfused.rows] == [['mul'], ['add']]
    assert [(r.bytes_read, r.bytes_written) for r in rep.unfused.rows] == [(4000, 4000)] * 2
    assert rep.bytes_saved == 8000
    assert rep.speedup > 0 and rep.call_speedup > 0
    d = json.loads(rep.to_json())
    assert d['sides']['fused']['bytes'] == 8000 and d['sides']['unfused']['bytes'] == 16000
    assert d['sides']['fused']['rows'][0]['fraction_of_copy_bandwidth'] > 0


def test_printed_report_has_header_table_and_totals(axpb_report):
    text = str(axpb_report)
    for s in ('device: CPU', 'copy bandwidth:', 'fused: 1 kernel(s)', 'unfused: 2 kernel(s)',
              'k0_mul_add', 'mul+add', 'fusion: 2 -> 1 kernels', 'saved 8 kB'):
        assert s in text, (s, text)


def test_matmul_flops_and_unfused_has_one_kernel_per_primitive():
    m, k, n = 32, 48, 16
    a = jnp.asarray(np.random.default_rng(0).standard_normal((m, k), dtype=np.float32))
    b = jnp.asarray(np.random.default_rng(1).standard_normal((k, n), dtype=np.float32))
    f = jax.jit(lambda a, b: jnp.tanh(a @ b + 1.0))
    rep = profiler.profile_call(f, (a, b), repeat=3)
    dots = [r for r in rep.fused.rows if r.kind == 'dot']
    assert len(dots) == 1 and dots[0].flops == 2 * m * n * k
    assert (dots[0].bytes_read, dots[0].bytes_written) == (4 * (m * k + k * n), 4 * m * n)
    assert dots[0].precision == 'fp32' and dots[0].peak(rep.roofline) > 0
    unfused_program = rep.unfused.program
    assert len(rep.unfused.rows) == len(unfused_program.graph.eqns)
    assert all(len(r.prims) == 1 for r in rep.unfused.rows)
    assert '%peak' in str(rep)


def test_chrome_trace_has_one_event_per_launch(axpb_report, tmp_path):
    path = tmp_path / 'report.json'
    axpb_report.to_chrome_trace(str(path))
    events = json.loads(path.read_text())['traceEvents']
    launches = [e for e in events if e['ph'] == 'X']
    assert len(launches) == 5 * 1 + 5 * 2          # repeat x kernels, fused + unfused
    assert all(e['dur'] >= 0 and 'ts' in e for e in launches)


def test_plot_writes_a_png(axpb_report, tmp_path):
    pytest.importorskip('matplotlib')
    path = tmp_path / 'bars.png'
    axpb_report.plot(str(path))
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_trace_api_records_every_launch(tmp_path):
    f = jax.jit(lambda x: jnp.sin(x) * 2.0 + x)
    g = jax.jit(lambda x: jnp.exp(x), fuse=False)
    x = jnp.ones(64)
    f(x)
    assert program_mod.step_hook is None
    with profiler.trace(str(tmp_path)):
        for _ in range(3):
            f(x)
        g(x)
        with profiler.TraceAnnotation('host span'):
            pass
    assert program_mod.step_hook is None           # the hot path is back to one check
    (path,) = [os.path.join(d, n) for d, _, ns in os.walk(tmp_path) for n in ns]
    events = json.loads(open(path).read())['traceEvents']
    kernels = [e for e in events if e['ph'] == 'X' and e['cat'] == 'kernel']
    assert len(kernels) == 3 + 1
    assert any(e['name'] == 'host span' for e in events)
    profiler.start_trace(str(tmp_path / 'again.json'))
    with pytest.raises(RuntimeError, match='already'):
        profiler.start_trace(str(tmp_path))
    assert profiler.stop_trace().endswith('again.json')
    with pytest.raises(RuntimeError, match='No profile'):
        profiler.stop_trace()


def test_roofline_is_cached_on_disk():
    from tinyjax.compiler import cache
    r = profiler.device_roofline(jax.devices()[0])
    assert r['copy_bandwidth'] > 1e8
    stored = json.loads((cache.cache_dir() / 'roofline.json').read_text())
    assert any(v['copy_bandwidth'] == r['copy_bandwidth'] for v in stored.values())


def test_cli_profiles_a_script(tmp_path):
    script = tmp_path / 'script.py'
    script.write_text(
        'import sys\n'
        'import tinyjax as jax, tinyjax.numpy as jnp\n'
        'f = jax.jit(lambda x, y: jnp.tanh(x * 2 + y))\n'
        'x = jnp.ones(100)\n'
        'for _ in range(4):\n'
        '    f(x, x)\n'
        'print("script args", sys.argv[1:])\n')
    trace = tmp_path / 'cli.json'
    proc = subprocess.run([sys.executable, '-m', 'tinyjax.profile', '--unfused', '--repeat', '3',
                           '--trace', str(trace), str(script), 'a1'], env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "script args ['a1']" in out
    assert '1 jitted function signature(s)' in out and 'called 4 time(s)' in out
    assert 'unfused: 3 kernel(s)' in out and 'fusion: 3 -> 1 kernels' in out
    events = json.loads(trace.read_text())['traceEvents']
    assert len([e for e in events if e['ph'] == 'X']) == 4    # the script's own 4 calls


def test_train_mlp_profile_flag():
    pytest.importorskip('sklearn')
    proc = subprocess.run([sys.executable, '-m', 'tinyjax.examples.train_mlp', '--profile',
                           '--epochs', '1', '--hidden', '32', '--quiet'], env=_env(),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert 'tinyjax profile: step' in proc.stdout and 'fusion:' in proc.stdout


def test_bench_dispatch_small(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'bench', 'run.py'), '--small',
                           '--case', 'dispatch', '--json', str(out)], env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    for k in ('date', 'device', 'versions', 'records'):
        assert k in result
    (rec,) = result['records']
    assert rec['case'] == 'dispatch' and rec['seconds'] > 0 and isinstance(rec['peers'], dict)
    assert '| dispatch |' in proc.stdout
    assert rec['peers'] or 'Skipped peers' in proc.stdout      # never silently dropped
    assert (tmp_path / 'bench.md').exists()


@pytest.mark.gpu
def test_profile_on_gpu_uses_cuda_events_and_the_h100_table():
    x = jnp.asarray(np.random.default_rng(0).standard_normal(1 << 22, dtype=np.float32))
    rep = profiler.profile_call(lambda x: jnp.tanh(x * 2 + 1), (x,), repeat=5)
    assert rep.info['platform'] == 'gpu' and 'driver' in rep.info
    assert 'CUDA events' in str(rep)
    (row,) = rep.fused.rows
    assert 0 < row.bandwidth / rep.roofline['copy_bandwidth'] < 1.2
    if rep.info.get('compute_capability') == '90':
        assert rep.roofline['peak_flops']['fp32'] > 5e13


def test_gpu_copy_bandwidth_uses_the_physical_gpu(monkeypatch):
    """A logical device (TINYJAX_NUM_GPU_DEVICES=8 on one GPU) has ids past the GPU
    count: the copy must run on its physical GPU (checked with a stand-in for CuPy)."""
    import sys
    import types
    from tinyjax.profiler import roofline
    used = []

    class Device:
        def __init__(self, i):
            used.append(i)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    buf = types.SimpleNamespace(data=types.SimpleNamespace(ptr=0))
    event = types.SimpleNamespace(record=lambda *a: None, synchronize=lambda: None)
    fake = types.SimpleNamespace(
        uint8=np.uint8, ones=lambda *a: buf, empty_like=lambda a: buf,
        cuda=types.SimpleNamespace(
            Device=Device, Event=lambda: event, get_elapsed_time=lambda a, b: 1.0,
            get_current_stream=lambda: types.SimpleNamespace(ptr=0),
            runtime=types.SimpleNamespace(memcpyAsync=lambda *a: None, memcpyDeviceToDevice=3)))
    monkeypatch.setitem(sys.modules, 'cupy', fake)
    dev = types.SimpleNamespace(platform='gpu', id=5, physical_id=0)
    assert roofline.measure_copy_bandwidth(dev, nbytes=1000, reps=2) == pytest.approx(2e6)
    assert used == [0]
