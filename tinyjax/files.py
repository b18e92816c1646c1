"""Writing files so that a crash cannot leave a half-written one, and a `kill -9` leaves
nothing for long: every temporary file or folder carries its writer's process id, and
the next writer in that folder removes those whose process is gone. Used by the kernel
cache (tinyjax/compiler/cache.py) and by checkpoints (tinyjax/examples/checkpoint.py)."""
import os
import shutil
import tempfile
import time

# A temporary name is <prefix><pid>-<random><suffix>. One whose pid is alive is another
# process's write in progress; it is left alone unless it is older than a day (its pid
# was reused by an unrelated process after the writer died).
_STALE_AFTER_S = 24 * 3600


def temp_prefix(prefix):
    return f'{prefix}{os.getpid()}-'


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:       # alive, owned by someone else
        return True
    except OSError:
        return False
    return True


def remove_stale_temps(directory, prefix):
    """Remove temporary files and folders `<prefix><pid>-*` in `directory` left by
    processes that no longer run (killed mid-write). Returns how many were removed."""
    removed = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    now = time.time()
    for name in names:
        if not name.startswith(prefix):
            continue
        pid_text = name[len(prefix):].split('-', 1)[0]
        if not pid_text.isdigit():
            continue
        path = os.path.join(directory, name)
        try:
            old = now - os.lstat(path).st_mtime > _STALE_AFTER_S
        except OSError:
            continue
        if _pid_alive(int(pid_text)) and not (old and int(pid_text) != os.getpid()):
            continue
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
            removed += 1
        except OSError:
            pass
    return removed


def atomic_write(path, write, prefix='.tmp-', durable=False):
    """Create `path` whole or not at all: `write(fileobj)` fills a temporary file in the
    same folder, which is renamed over `path` (after an fsync when `durable`: a
    checkpoint must survive a power cut; a cache entry is checked by its digest instead).
    `write` may also be bytes."""
    directory = os.path.dirname(os.path.abspath(path)) or '.'
    suffix = os.path.splitext(str(path))[1]
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=temp_prefix(prefix), suffix=suffix)
    try:
        with os.fdopen(fd, 'wb') as f:
            if isinstance(write, (bytes, bytearray, memoryview)):
                f.write(write)
            else:
                write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def temp_dir(directory, prefix):
    """A new private folder in `directory` named for this process (see remove_stale_temps)."""
    return tempfile.mkdtemp(dir=directory, prefix=temp_prefix(prefix))
