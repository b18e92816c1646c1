"""The kernel cache cannot break jit: an unusable folder, a full disk or an unreadable
entry falls back or rebuilds; temporaries of killed processes are removed; the cache is
bounded; clear_caches unloads what no program uses; Ctrl-C stops the trainer with one
line. (Tests run as root in CI, where a read-only mode does not stop writes, so an
unusable folder is one below a regular file, which no user can create.)"""
import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import files
from tinyjax.compiler import cache, hostcc
from tinyjax.examples import checkpoint

REPO = Path(__file__).resolve().parents[1]
SCRIPT = textwrap.dedent('''
    import warnings
    warnings.simplefilter('always')
    import numpy as np
    import tinyjax as jax, tinyjax.numpy as jnp
    from tinyjax.compiler import cache
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    for k in range(3):       # three programs: three compiles, still one warning
        got = jax.jit(lambda x: jnp.tanh(x) * 2 + k)(x)
        assert np.allclose(got, np.tanh(x) * 2 + k, atol=1e-6)
    print('dir', cache.cache_dir())
''')


def _run_script(env_changes, script=SCRIPT):
    # No NVRTC check builds in these processes: they are about the host cache (and CuPy
    # itself cannot start under an unusable $HOME); and no launcher extension build at
    # exit (seconds of g++ under `nice` on a busy machine).
    env = dict(os.environ, PYTHONPATH=str(REPO), TINYJAX_NVRTC_CHECK='',
               TINYJAX_HOST_LAUNCHER='0', **env_changes)
    for k, v in env_changes.items():
        if v is None:
            env.pop(k)
    out = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out


def _not_creatable(tmp_path):
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a folder')
    return blocker


@pytest.mark.parametrize('where', ['cache_dir', 'home'])
def test_unusable_cache_folder_falls_back_with_one_warning(tmp_path, where):
    blocker = _not_creatable(tmp_path)
    env = {'TINYJAX_CACHE_DIR': str(blocker / 'cache')} if where == 'cache_dir' else \
        {'TINYJAX_CACHE_DIR': None, 'HOME': str(blocker)}        # a read-only $HOME
    out = _run_script(env)
    assert out.stderr.count('kernel cache folder cannot be used') == 1, out.stderr
    used = Path(out.stdout.split('dir ')[1].strip())
    assert 'tinyjax-cache-' in used.name
    assert not used.exists()               # the fallback is removed at exit


def test_full_disk_at_a_write_falls_back_and_keeps_working(tmp_path, monkeypatch):
    d = tmp_path / 'cache'
    monkeypatch.setenv('TINYJAX_CACHE_DIR', str(d))
    real = files.atomic_write

    def full_disk(path, *a, **k):
        if str(path).startswith(str(d)):
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real(path, *a, **k)
    monkeypatch.setattr(files, 'atomic_write', full_disk)
    monkeypatch.setattr(cache, '_warned', [])
    x = np.linspace(-1, 1, 10, dtype=np.float32)
    with pytest.warns(RuntimeWarning, match='kernel cache folder cannot be used.*No space'):
        got = jax.jit(lambda x: jnp.sin(x) * 3 - 0.25)(x)
    np.testing.assert_allclose(np.asarray(got), np.sin(x) * 3 - 0.25, rtol=1e-6)
    assert cache.cache_dir() != d
    got = jax.jit(lambda x: jnp.cos(x) * 5 - 0.125)(x)     # later compiles: no new warning
    np.testing.assert_allclose(np.asarray(got), np.cos(x) * 5 - 0.125, rtol=1e-6)


def test_unreadable_digest_is_a_miss_and_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv('TINYJAX_CACHE_DIR', str(tmp_path))
    k = cache.key('entry', 7)
    path = cache.store(k, 'so', b'payload')
    assert cache.load(k, 'so') == b'payload'
    Path(str(path) + '.sha256').write_bytes(b'\xff\xfe not text')
    assert cache.load(k, 'so') is None
    # and through jit: every digest damaged, the program still builds and runs
    f = lambda x: jnp.exp(x) - 2.5        # noqa: E731
    x = np.arange(5, dtype=np.float32)
    jax.jit(f)(x)
    for p in tmp_path.glob('*.sha256'):
        p.write_bytes(b'\x80' * 64)
    jax.clear_caches()
    before = cache.stats['compiled']
    np.testing.assert_allclose(np.asarray(jax.jit(f)(x)), np.exp(x) - 2.5, rtol=1e-5)
    assert cache.stats['compiled'] > before


def _dead_pid():
    p = subprocess.Popen([sys.executable, '-c', 'pass'])
    p.wait()
    return p.pid


def test_temporaries_of_killed_processes_are_removed_at_next_start(tmp_path):
    d = tmp_path / 'cache'
    d.mkdir()
    dead = _dead_pid()
    (d / f'.tmp-{dead}-abc.so').write_bytes(b'x' * 1000)
    (d / f'.build-{dead}-xyz').mkdir()
    (d / f'.build-{dead}-xyz' / 'program.cpp').write_text('int x;')
    live = d / f'.tmp-{os.getppid()}-keep.so'   # a live process's write in progress
    live.write_bytes(b'y')
    _run_script({'TINYJAX_CACHE_DIR': str(d)})
    names = sorted(p.name for p in d.iterdir() if p.name.startswith('.'))
    assert names == [live.name]


def test_kill_9_during_a_compile_leaves_nothing_after_the_next_start(tmp_path):
    d = tmp_path / 'cache'
    slow = tmp_path / 'slow-cxx'
    slow.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo slow 1; exit 0; fi\n'
                    'touch "$(dirname "$0")/started"; exec sleep 60\n')
    slow.chmod(0o755)
    env = dict(os.environ, PYTHONPATH=str(REPO), TINYJAX_CACHE_DIR=str(d), CXX=str(slow),
               TINYJAX_NVRTC_CHECK='', TINYJAX_HOST_LAUNCHER='0')
    proc = subprocess.Popen([sys.executable, '-c', SCRIPT], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if (tmp_path / 'started').exists():
                break
            time.sleep(0.1)
        assert any(p.name.startswith('.build-') for p in d.iterdir())
    finally:
        os.killpg(proc.pid, signal.SIGKILL)      # the process we started, and its compiler
        proc.wait()
    assert any(p.name.startswith('.build-') for p in d.iterdir())
    _run_script({'TINYJAX_CACHE_DIR': str(d)})
    assert not [p for p in d.iterdir() if p.name.startswith(('.build-', '.tmp-'))]


def test_checkpoint_temporaries_of_a_killed_save_are_removed(tmp_path):
    stale = tmp_path / f'{checkpoint.TMP_PREFIX}{_dead_pid()}-abc.npz'
    stale.write_bytes(b'\0' * 4096)
    path = tmp_path / 'model.npz'
    checkpoint.save(str(path), {'w': jnp.ones((2, 2))}, epoch=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['model.npz']
    tree, meta = checkpoint.load(str(path), {'w': jnp.zeros((2, 2))})
    assert meta == {'epoch': 1} and np.asarray(tree['w']).sum() == 4


def test_disk_cache_is_bounded_least_recently_used_first(tmp_path, monkeypatch):
    monkeypatch.setenv('TINYJAX_CACHE_DIR', str(tmp_path))
    monkeypatch.setenv('TINYJAX_CACHE_MAX_BYTES', '5000')
    keys = [cache.key('bounded', i) for i in range(8)]
    for i, k in enumerate(keys):
        path = cache.store(k, 'so', bytes([i]) * 1000)
        os.utime(path, (1000 + i, 1000 + i))     # distinct ages, oldest first
        assert sum(size for _, size, _ in cache.entries()) <= 5000
    kept = [k for k in keys if cache.entry_path(k, 'so').exists()]
    assert kept == keys[-len(kept):] and 2 <= len(kept) < 8     # the newest survive
    assert all(Path(str(cache.entry_path(k, 'so')) + '.sha256').exists() == (k in kept)
               for k in keys)
    oldest = kept[0]
    assert cache.load(oldest, 'so') is not None          # a hit makes it the newest
    i = 8
    while cache.entry_path(kept[1], 'so').exists():      # until an eviction passes by
        cache.store(cache.key('bounded', i), 'so', bytes([i]) * 1000)
        i += 1
    assert cache.entry_path(oldest, 'so').exists()


def test_clear_caches_unloads_libraries_no_program_uses(tmp_path, monkeypatch):
    monkeypatch.setenv('TINYJAX_CACHE_DIR', str(tmp_path))
    x = np.arange(6, dtype=np.float32)
    fs = [jax.jit(lambda x, c=float(c): jnp.tanh(x) + c) for c in range(3)]
    for f in fs:
        f(x)
    kept = jax.jit(lambda x: jnp.sqrt(x) * 7).lower(x).compile()   # held by the caller
    loaded = len(hostcc._loaded)
    assert loaded >= 4
    jax.clear_caches()
    assert len(hostcc._loaded) < loaded
    assert len(hostcc._loaded) >= 1                          # `kept`'s library stays
    np.testing.assert_allclose(np.asarray(fs[1](x)), np.tanh(x) + 1, rtol=1e-6)
    del kept


def test_ctrl_c_stops_training_with_one_line(tmp_path):
    pytest.importorskip('sklearn')
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # Ctrl-C at a terminal: SIGINT at Python's default. A shell without job control starts
    # a background job (`pytest &`, CI) with SIGINT ignored, which the child would inherit.
    start = ('import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); '
             "sys.argv = ['train_mlp', '--epochs', '50']; "
             "runpy.run_module('tinyjax.examples.train_mlp', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, '-u', '-c', start], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        buf = b''
        while b'steps/s' not in buf:              # training has started
            chunk = proc.stdout.read1(256)
            assert chunk, proc.stderr.read().decode()
            buf += chunk
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err.decode()
    assert proc.returncode == 130, err[-3000:]
    assert 'Traceback' not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith('interrupted: training stopped (Ctrl-C)')
