"""The device's limits a kernel is measured against, and what the device is.

Copy bandwidth is measured, once per device, and cached in memory and on disk
(`<tinyjax cache dir>/roofline.json`, keyed by device name, driver and library versions):
a device-to-device copy on a GPU, a NumPy memcpy on the host, each of a buffer far larger
than the last-level cache, counted as bytes read + written per second (the same way a
kernel's achieved bandwidth is counted).

Peak FLOP/s come from a table of NVIDIA's published dense (no sparsity) figures by
compute capability and board; on the CPU there is no table, so the BLAS rate of a
float32 1024^3 matmul is measured instead and labelled as such.
"""
import json
import os
import platform
import sys
import time

import numpy as np

from tinyjax.profiler.timing import median
from tinyjax.compiler import cache
from tinyjax.version import __version__

GB = 1e9
TF = 1e12

# NVIDIA's published peak rates, dense (the datasheets quote sparse tensor rates too, at
# twice these). fp32 is the non-tensor (CUDA core) rate, which is what a float32 matmul
# gets at Precision.HIGHEST; DEFAULT and HIGH allow TF32 (tinyjax/ops/precision.py).
PEAKS = {
    # H100 SXM5 (also H200, same SM count and clocks): NVIDIA H100 Tensor Core GPU datasheet
    ('90', 'sxm'): dict(fp64=34 * TF, fp32=67 * TF, tf32=494.7 * TF, bf16=989.4 * TF,
                        fp16=989.4 * TF, source='NVIDIA H100 SXM5 datasheet (dense)'),
    ('90', 'pcie'): dict(fp64=26 * TF, fp32=51.2 * TF, tf32=378 * TF, bf16=756 * TF,
                         fp16=756 * TF, source='NVIDIA H100 PCIe datasheet (dense)'),
    ('80', 'sxm'): dict(fp64=9.7 * TF, fp32=19.5 * TF, tf32=156 * TF, bf16=312 * TF,
                        fp16=312 * TF, source='NVIDIA A100 datasheet (dense)'),
    ('89', ''): dict(fp64=1.4 * TF, fp32=91.6 * TF, tf32=90.5 * TF, bf16=181 * TF,
                     fp16=181 * TF, source='NVIDIA L40S datasheet (dense)'),
}


def _peak_entry(device):
    cc = getattr(device, 'compute_capability', None)
    if cc is None:
        return None
    name = getattr(device, 'device_kind', '').lower()
    board = 'pcie' if 'pcie' in name else 'sxm'
    return PEAKS.get((cc, board)) or PEAKS.get((cc, '')) or PEAKS.get((cc, 'sxm'))


def precision_for(dtype, tf32=False):
    """Which peak a matmul with result `dtype` runs against (`tf32`: TF32 allowed)."""
    dt = np.dtype(dtype)
    if dt == np.float64:
        return 'fp64'
    if dt == np.float32:
        return 'tf32' if tf32 else 'fp32'
    if dt.itemsize == 2:
        return 'bf16' if dt.name == 'bfloat16' else 'fp16'
    return 'fp32'


def device_info(device):
    """Name, driver and library versions: the report's and the benchmark's header."""
    info = {'platform': device.platform, 'tinyjax': __version__,
            'python': platform.python_version(), 'numpy': np.__version__}
    if device.platform == 'gpu':
        import cupy  # lazy: CuPy is optional (GPU only)
        rt = cupy.cuda.runtime
        info['name'] = device.device_kind
        info['compute_capability'] = device.compute_capability
        info['driver'] = _cuda_version(rt.driverGetVersion())
        info['cuda_runtime'] = _cuda_version(rt.runtimeGetVersion())
        info['cupy'] = cupy.__version__
        try:
            from cupy.cuda import nvrtc  # lazy: CuPy is optional (GPU only)
            info['nvrtc'] = '.'.join(map(str, nvrtc.getVersion()))
        except Exception:
            pass
    else:
        info['name'] = f'CPU: {cpu_model()} ({os.cpu_count()} threads)'
        info['cores'] = os.cpu_count()
    return info


def _cuda_version(v):
    return f'{v // 1000}.{(v % 1000) // 10}'


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


_memo = {}


def roofline(device):
    """{'copy_bandwidth': bytes/s, 'peak_flops': {precision: flop/s}, 'flops_source': str,
    'measured': date} for `device`, measured on first use and cached."""
    info = device_info(device)
    key = json.dumps([info.get('name'), info.get('driver'), info.get('cupy'),
                      info['numpy'], device.platform], sort_keys=True)
    if key in _memo:
        return _memo[key]
    path = _cache_path()
    stored = _read(path)
    if key in stored:
        _memo[key] = stored[key]
        return stored[key]
    r = {'copy_bandwidth': measure_copy_bandwidth(device),
         'measured': time.strftime('%Y-%m-%d')}
    entry = _peak_entry(device)
    if entry is not None:
        r['peak_flops'] = {k: v for k, v in entry.items() if k != 'source'}
        r['flops_source'] = entry['source']
    elif device.platform == 'cpu':
        rate = measure_host_matmul_rate()
        r['peak_flops'] = {p: rate for p in ('fp32', 'tf32', 'fp16', 'bf16')}
        r['peak_flops']['fp64'] = rate / 2
        r['flops_source'] = 'measured: NumPy BLAS float32 1024^3 matmul'
    else:
        r['peak_flops'], r['flops_source'] = {}, 'unknown device: no peak table entry'
    _memo[key] = r
    stored[key] = r
    _write(path, stored)
    return r


def _cache_path():
    return cache.cache_dir() / 'roofline.json'


def _read(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write(path, data):
    tmp = path.with_name(f'.roofline-{os.getpid()}.tmp')
    try:
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
    except OSError as e:     # a read-only cache only costs a re-measurement next time
        print(f'tinyjax.profiler: could not cache the roofline in {path}: {e}', file=sys.stderr)


def measure_copy_bandwidth(device, nbytes=None, reps=10):
    """Bytes read + written per second of a large buffer copy on `device`."""
    if device.platform == 'gpu':
        import cupy  # lazy: CuPy is optional (GPU only)
        nbytes = nbytes or 1 << 30      # 1 GiB: 20x an H100's 50 MB L2
        # physical_id: a logical device (TINYJAX_NUM_GPU_DEVICES) may number past the GPUs
        with cupy.cuda.Device(getattr(device, 'physical_id', device.id)):
            src = cupy.ones(nbytes, cupy.uint8)
            dst = cupy.empty_like(src)
            times = []
            for i in range(reps + 2):
                a, b = cupy.cuda.Event(), cupy.cuda.Event()
                a.record()
                cupy.cuda.runtime.memcpyAsync(dst.data.ptr, src.data.ptr, nbytes,
                                              cupy.cuda.runtime.memcpyDeviceToDevice,
                                              cupy.cuda.get_current_stream().ptr)
                b.record()
                b.synchronize()
                if i >= 2:       # two warm-up copies
                    times.append(cupy.cuda.get_elapsed_time(a, b) * 1e-3)
            del src, dst
    else:
        nbytes = nbytes or 1 << 27      # 128 MiB: beyond any host's last-level cache
        src = np.ones(nbytes, np.uint8)
        dst = np.empty_like(src)
        times = []
        for i in range(reps + 1):
            t = time.perf_counter()
            np.copyto(dst, src)
            if i:
                times.append(time.perf_counter() - t)
    return 2 * nbytes / median(times)


def measure_host_matmul_rate(n=1024, reps=5):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / median(times)


def header_lines(device):
    """The report's header: what ran where, and the limits used for the fractions."""
    info, r = device_info(device), roofline(device)
    versions = ', '.join(f'{k} {info[k]}' for k in ('tinyjax', 'python', 'numpy', 'cupy',
                                                      'cuda_runtime', 'nvrtc') if k in info)
    lines = [f'device: {info["name"]}' + (f' (sm_{info["compute_capability"]}, driver '
                                          f'{info["driver"]})' if 'driver' in info else '')]
    lines.append(f'versions: {versions}')
    lines.append(f'copy bandwidth: {r["copy_bandwidth"] / GB:.1f} GB/s (measured '
                 f'{r["measured"]}, bytes read + written)')
    pk = r.get('peak_flops') or {}
    if device.platform == 'cpu':        # one measured rate: do not repeat it per precision
        pk = {k: pk[k] for k in ('fp32',) if k in pk}
    if pk:
        shown = ', '.join(f'{k} {format_rate(v)}' for k, v in pk.items())
        lines.append(f'peak: {shown} ({r["flops_source"]})')
    return lines


def format_rate(flops):
    return f'{flops / TF:.3g} TFLOP/s' if flops >= TF else f'{flops / 1e9:.3g} GFLOP/s'
