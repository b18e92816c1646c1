"""The on-disk cache of compiled kernels (cubins and host shared libraries).

An entry is a file `<key>.<ext>` plus `<key>.<ext>.sha256` holding the payload's digest,
each written to a temporary name and moved into place (tinyjax/files.py), so a reader
never sees half a file. Any entry that cannot be read or does not match its digest
(truncated, corrupted, a digest that is not text, caught between the two writes) is a
miss and is rebuilt. The key is a hash of everything that determines the binary:
source, options, arch, compiler version and the code generator's version.

The folder is TINYJAX_CACHE_DIR, else ~/.cache/tinyjax, created private (0700). When it
cannot be created or written (read-only, a read-only $HOME, a full disk) — at the start
or at any later write — the process warns once and keeps compiling into a private
temporary folder, removed at exit. Temporaries carry their writer's pid, and those of
killed processes are removed when the folder is next opened. The cache holds at most
TINYJAX_CACHE_MAX_BYTES (default 1 GiB): a write past it removes the least recently used
entries (a hit refreshes an entry's time) down to 80% of the bound.
"""
import atexit
import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path

from tinyjax import errors, files
from tinyjax.compiler.codegen import CODEGEN_VERSION

# 'compiled' counts real compiler runs (NVRTC or host): a warm cache keeps it at zero.
stats = {'hits': 0, 'misses': 0, 'corrupt': 0, 'compiled': 0, 'evicted': 0}

TMP_PREFIX = '.tmp-'          # entries being written
BUILD_PREFIX = '.build-'      # host compiler working folders
ENTRY_EXTS = ('.so', '.cubin')
DEFAULT_MAX_BYTES = 1 << 30

_lock = threading.Lock()
_chosen = {}                  # TINYJAX_CACHE_DIR value -> the folder in use
_warned = []


def max_bytes():
    try:
        return int(os.environ.get('TINYJAX_CACHE_MAX_BYTES', DEFAULT_MAX_BYTES))
    except ValueError:
        return DEFAULT_MAX_BYTES


def configured_dir():
    want = os.environ.get('TINYJAX_CACHE_DIR')
    return Path(want) if want else Path.home() / '.cache' / 'tinyjax'


def cache_dir():
    """The folder in use: the configured one, or this process's fallback."""
    want = os.environ.get('TINYJAX_CACHE_DIR', '')
    d = _chosen.get(want)
    if d is None:
        with _lock:
            d = _chosen.get(want)
            if d is None:
                d = _chosen[want] = _open_configured()
    return d


def _open_configured():
    try:
        d = configured_dir()
        if not d.is_dir():
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(d, 0o700)
        os.unlink(tempfile.mkstemp(dir=d, prefix=files.temp_prefix(TMP_PREFIX))[1])  # writable?
    except (OSError, RuntimeError, KeyError) as e:    # no $HOME: RuntimeError/KeyError
        return _fallback(e)
    for prefix in (TMP_PREFIX, BUILD_PREFIX):
        files.remove_stale_temps(d, prefix)
    return d


def _fallback(reason):
    """A private temporary folder for this process's kernels (removed at exit)."""
    for base in (tempfile.gettempdir(), '/dev/shm'):
        try:
            files.remove_stale_temps(base, 'tinyjax-cache-')
            d = Path(files.temp_dir(base, 'tinyjax-cache-'))
        except OSError:
            continue
        atexit.register(shutil.rmtree, d, True)
        _warn_once(f'tinyjax: the kernel cache folder cannot be used ({reason}); compiled '
                   f'kernels go to {d} for this process only. Set TINYJAX_CACHE_DIR to a '
                   'writable folder to keep them.')
        return d
    raise errors.CompileError(f'tinyjax: no writable folder for compiled kernels ({reason}); '
                              'set TINYJAX_CACHE_DIR or free some disk space')


def _warn_once(message):
    if not _warned:
        _warned.append(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _switch_to_fallback(reason):
    want = os.environ.get('TINYJAX_CACHE_DIR', '')
    with _lock:
        d = _chosen[want] = _fallback(reason)
    return d


def key(*parts):
    h = hashlib.sha256()
    for p in (CODEGEN_VERSION,) + parts:
        data = p if isinstance(p, bytes) else str(p).encode()
        h.update(len(data).to_bytes(8, 'little'))
        h.update(data)
    return h.hexdigest()[:40]


def entry_path(k, ext):
    return cache_dir() / f'{k}.{ext}'


def load(k, ext):
    """The payload of entry (k, ext) when present, readable and intact, else None."""
    path = entry_path(k, ext)
    try:
        data = path.read_bytes()
        digest = Path(str(path) + '.sha256').read_bytes().decode('ascii').strip()
    except (OSError, ValueError):          # missing, unreadable, or not a digest at all
        stats['misses'] += 1
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        stats['corrupt'] += 1
        stats['misses'] += 1
        return None
    stats['hits'] += 1
    with contextlib.suppress(OSError):
        os.utime(path)                     # recently used: evicted last
    return data


def store(k, ext, data):
    """Write entry (k, ext); returns the path it can be read from (in the fallback folder
    when the cache folder refuses the write)."""
    try:
        path = _write_entry(cache_dir(), k, ext, data)
    except OSError as e:                   # full disk, folder made read-only meanwhile
        path = _write_entry(_switch_to_fallback(e), k, ext, data)
    evict(keep=path)
    return path


def _write_entry(d, k, ext, data):
    path = d / f'{k}.{ext}'
    files.atomic_write(path, data, TMP_PREFIX)
    files.atomic_write(Path(str(path) + '.sha256'), hashlib.sha256(data).hexdigest().encode(),
                       TMP_PREFIX)
    return path


def entries(d=None):
    """[(last use, bytes, [paths])] of the cache's entries."""
    d = d or cache_dir()
    out = []
    try:
        names = os.listdir(d)
    except OSError:
        return out
    for name in names:
        if not name.endswith(ENTRY_EXTS) or name.startswith('.'):
            continue
        paths = [d / name, d / (name + '.sha256')]
        try:
            st = os.stat(paths[0])
            size = st.st_size + sum(os.stat(p).st_size for p in paths[1:] if p.exists())
        except OSError:
            continue
        out.append((st.st_mtime, size, paths))
    return out


def evict(keep=None, bound=None):
    """Remove least recently used entries while the cache holds more than the bound."""
    bound = max_bytes() if bound is None else bound
    found = entries()
    total = sum(size for _, size, _ in found)
    if total <= bound:
        return 0
    removed = 0
    for _, size, paths in sorted(found, key=lambda e: e[0]):
        if total <= bound * 0.8:
            break
        if keep is not None and paths[0] == Path(keep):
            continue
        for p in paths:
            with contextlib.suppress(OSError):
                os.unlink(p)
        total -= size
        removed += 1
    stats['evicted'] += removed
    return removed


@contextlib.contextmanager
def build_dir():
    """A working folder for one host compile, inside the cache folder and named for this
    process, so a compiler killed with the process leaves nothing behind for long."""
    try:
        d = files.temp_dir(cache_dir(), BUILD_PREFIX)
    except OSError as e:
        d = files.temp_dir(_switch_to_fallback(e), BUILD_PREFIX)
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def save_failed_source(name, source, ext='cu'):
    """Keep a source that failed to compile, for the error message to point at."""
    d = cache_dir() / 'failed'
    d.mkdir(exist_ok=True, mode=0o700)
    path = d / f'{name}-{key(source)[:12]}.{ext}'
    files.atomic_write(path, source.encode(), TMP_PREFIX)
    return path
