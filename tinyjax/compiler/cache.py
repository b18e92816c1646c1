"""The on-disk cache of compiled kernels (cubins and host shared libraries).

An entry is a file `<key>.<ext>` plus `<key>.<ext>.sha256` holding the payload's digest.
Both are written to a temporary name and moved into place with os.replace, so a reader
never sees half a file; an entry whose digest does not match (truncated, corrupted, or
caught between the two writes) counts as a miss and is rebuilt. The key is a hash of
everything that determines the binary: source, options, arch, compiler version and the
code generator's version.

The folder is TINYJAX_CACHE_DIR, else ~/.cache/tinyjax, created private (0700).
"""
import hashlib
import os
import tempfile
from pathlib import Path

from tinyjax.compiler.codegen import CODEGEN_VERSION

# 'compiled' counts real compiler runs (NVRTC or host): a warm cache keeps it at zero.
stats = {'hits': 0, 'misses': 0, 'corrupt': 0, 'compiled': 0}


def cache_dir():
    d = Path(os.environ.get('TINYJAX_CACHE_DIR') or Path.home() / '.cache' / 'tinyjax')
    if not d.is_dir():
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(d, 0o700)
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


def _atomic_write(path, data):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix='.tmp-', suffix=path.suffix)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load(k, ext):
    """The payload of entry (k, ext) when present and intact, else None."""
    path = entry_path(k, ext)
    try:
        data = path.read_bytes()
        digest = Path(str(path) + '.sha256').read_text().strip()
    except OSError:
        stats['misses'] += 1
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        stats['corrupt'] += 1
        stats['misses'] += 1
        return None
    stats['hits'] += 1
    return data


def store(k, ext, data):
    """Write entry (k, ext); returns its path."""
    path = entry_path(k, ext)
    _atomic_write(path, data)
    _atomic_write(Path(str(path) + '.sha256'), hashlib.sha256(data).hexdigest().encode())
    return path


def save_failed_source(name, source, ext='cu'):
    """Keep a source that failed to compile, for the error message to point at."""
    d = cache_dir() / 'failed'
    d.mkdir(exist_ok=True, mode=0o700)
    path = d / f'{name}-{key(source)[:12]}.{ext}'
    _atomic_write(path, source.encode())
    return path
