"""Runtime options under JAX's names: `tinyjax.config.update('jax_enable_x64', True)`."""
import os


def _env_bool(name, default):
    v = os.environ.get(name.upper())
    if v is None:
        return default
    return v.strip().lower() in ('1', 'true', 'yes', 'on')


_DEFAULTS = {
    'jax_enable_x64': _env_bool('jax_enable_x64', False),
    # 'cpu', 'cuda' or None (the GPU when CuPy sees one, else the CPU).
    'jax_platforms': os.environ.get('TINYJAX_PLATFORM') or os.environ.get('JAX_PLATFORMS') or None,
    'jax_num_cpu_devices': int(os.environ.get('JAX_NUM_CPU_DEVICES', '1')),
    'jax_debug_nans': _env_bool('jax_debug_nans', False),
    'jax_default_matmul_precision': None,
}
_values = dict(_DEFAULTS)
_listeners = []


class Config:
    """Mirrors `jax.config`: `update(name, value)` and attribute reads."""

    def update(self, name, value):
        if name not in _values:
            raise AttributeError(f'Unrecognized config option: {name!r}; '
                                 f'tinyjax knows {sorted(_values)}')
        _values[name] = value
        for fn in _listeners:
            fn(name, value)

    def read(self, name):
        return _values[name]

    def __getattr__(self, name):
        if name in _values:
            return _values[name]
        raise AttributeError(name)


config = Config()


def read(name):
    return _values[name]


def on_change(fn):
    """Call fn(name, value) whenever an option changes (caches listen here)."""
    _listeners.append(fn)
    return fn
