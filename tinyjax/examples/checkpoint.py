"""Checkpoints of pytrees: a `.npz` of the flattened leaves plus a description of the
tree, written atomically (temporary file + rename), so a crash mid-save loses nothing,
and checked on load, so a truncated or mismatched file is refused, never half-loaded."""
import json
import os
import zipfile

import numpy as np

from tinyjax import files, tree_util
from tinyjax import numpy as jnp

FORMAT = 'tinyjax-checkpoint-1'
TMP_PREFIX = '.ckpt-'     # .ckpt-<pid>-*.npz while a save is under way


class CheckpointError(ValueError):
    pass


def save(path, tree, **metadata):
    leaves, treedef = tree_util.tree_flatten(tree)
    arrays = {f'leaf_{i}': np.asarray(x) for i, x in enumerate(leaves)}
    header = {'format': FORMAT, 'treedef': repr(treedef), 'num_leaves': len(leaves),
              'shapes': [list(a.shape) for a in arrays.values()],
              'dtypes': [str(a.dtype) for a in arrays.values()], 'metadata': metadata}
    arrays['header'] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path)) or '.'
    os.makedirs(directory, exist_ok=True)
    files.remove_stale_temps(directory, TMP_PREFIX)     # left by a save killed mid-write
    files.atomic_write(path, lambda f: np.savez(f, **arrays), TMP_PREFIX, durable=True)


def load(path, like):
    """Load a checkpoint into the structure of `like` (a pytree of the same shapes)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data['header']).decode())
            if header.get('format') != FORMAT:
                raise CheckpointError(f'{path}: not a tinyjax checkpoint (format '
                                      f'{header.get("format")!r})')
            arrays = [data[f'leaf_{i}'] for i in range(header['num_leaves'])]
    except CheckpointError:
        raise
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as e:
        raise CheckpointError(f'{path}: the checkpoint is truncated or corrupt ({e}); nothing '
                              'was loaded') from None
    like_leaves, treedef = tree_util.tree_flatten(like)
    if repr(treedef) != header['treedef'] or len(like_leaves) != len(arrays):
        raise CheckpointError(f'{path}: the checkpoint holds a tree {header["treedef"]}, but '
                              f'the model expects {treedef!r}; was it saved with other '
                              'options (--hidden, --optimizer)?')
    for i, (a, b) in enumerate(zip(arrays, like_leaves)):
        if a.shape != np.shape(b) or a.dtype != np.asarray(b).dtype:
            raise CheckpointError(f'{path}: leaf {i} is {a.dtype}{list(a.shape)} but the model '
                                  f'expects {np.asarray(b).dtype}{list(np.shape(b))}')
    return tree_util.tree_unflatten(treedef, [jnp.asarray(a) for a in arrays]), header['metadata']
