"""The kernel cache on disk, and compile errors."""
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import errors
from tinyjax.compiler import cache, hostcc, nvrtc

REPO = Path(__file__).resolve().parents[1]
SCRIPT = textwrap.dedent('''
    import numpy as np
    import tinyjax as jax, tinyjax.numpy as jnp
    from tinyjax.compiler import cache
    x = jnp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    a = jax.jit(lambda x: jnp.tanh(x) * 2 + 1)(x)
    b = jax.jit(lambda x: jnp.sum(x * x, axis=1))(x)
    assert np.allclose(a, np.tanh(np.asarray(x)) * 2 + 1, atol=1e-6)
    assert np.allclose(b, (np.asarray(x) ** 2).sum(1))
    print('compiled', cache.stats['compiled'], 'corrupt', cache.stats['corrupt'])
''')


def _run(cache_dir):
    env = dict(os.environ, TINYJAX_CACHE_DIR=str(cache_dir), PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, '-c', SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    return int(words[words.index('compiled') + 1]), int(words[words.index('corrupt') + 1])


def test_second_process_compiles_nothing_and_corrupt_entries_rebuild(tmp_path):
    d = tmp_path / 'cache'
    compiled, _ = _run(d)
    assert compiled >= 1
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    compiled, _ = _run(d)
    assert compiled == 0
    entries = [p for p in d.iterdir() if p.suffix in ('.so', '.cubin')]
    assert entries
    for p in entries:                      # truncate every binary
        p.write_bytes(p.read_bytes()[:100])
    compiled, corrupt = _run(d)
    assert compiled >= 1 and corrupt >= 1
    compiled, corrupt = _run(d)
    assert compiled == 0 and corrupt == 0


def test_cache_entries_are_checked(tmp_path, monkeypatch):
    monkeypatch.setenv('TINYJAX_CACHE_DIR', str(tmp_path))
    k = cache.key('x', 1)
    assert cache.load(k, 'bin') is None
    cache.store(k, 'bin', b'payload')
    assert cache.load(k, 'bin') == b'payload'
    cache.entry_path(k, 'bin').write_bytes(b'paylo')
    assert cache.load(k, 'bin') is None
    assert not list(tmp_path.glob('.tmp-*'))


def test_host_compile_error_names_saved_source(tmp_path, monkeypatch):
    monkeypatch.setenv('TINYJAX_CACHE_DIR', str(tmp_path))
    with pytest.raises(errors.CompileError) as e:
        hostcc.build('extern "C" __global__ void broken(float* x) { x[0] = undefined_name; }',
                     'broken')
    assert 'undefined_name' in e.value.log
    assert Path(e.value.source_path).is_file()


@pytest.mark.skipif(not nvrtc.available(), reason='NVRTC (cupy-cuda13x) not installed')
def test_nvrtc_compile_error_has_log_and_source(tmp_path, monkeypatch):
    monkeypatch.setenv('TINYJAX_CACHE_DIR', str(tmp_path))
    with pytest.raises(errors.CompileError) as e:
        nvrtc.compile_cubin('extern "C" __global__ void broken(float* x) { x[0] = nope; }',
                            'sm_90', 'broken')
    assert 'nope' in e.value.log and 'sm_90' in str(e.value)
    assert Path(e.value.source_path).read_text().count('broken') >= 1


@pytest.mark.skipif(not nvrtc.available(), reason='NVRTC (cupy-cuda13x) not installed')
def test_cubin_is_cached_per_arch(tmp_path, monkeypatch):
    monkeypatch.setenv('TINYJAX_CACHE_DIR', str(tmp_path))
    src = jax.jit(lambda x: jnp.exp(x) * 2).lower(jnp.ones(4)).as_cuda()
    before = cache.stats['compiled']
    a = nvrtc.compile_cubin(src, 'sm_90')
    b = nvrtc.compile_cubin(src, 'sm_90')
    c = nvrtc.compile_cubin(src, 'sm_80')
    assert a == b and a != c and a[:4] == b'\x7fELF'
    assert cache.stats['compiled'] - before == 2
    np.testing.assert_allclose(jax.jit(lambda x: jnp.exp(x) * 2)(jnp.ones(4)), np.exp(1) * 2, rtol=1e-6)
