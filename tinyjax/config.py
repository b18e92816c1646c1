"""Runtime options under JAX's names: `tinyjax.config.update('jax_enable_x64', True)`."""
import contextlib
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
    # -1: unset, so XLA_FLAGS=--xla_force_host_platform_device_count=N decides (else 1).
    'jax_num_cpu_devices': int(os.environ.get('JAX_NUM_CPU_DEVICES', '-1')),
    'jax_debug_nans': _env_bool('jax_debug_nans', False),
    'jax_debug_infs': _env_bool('jax_debug_infs', False),
    # jit calls run the Python function eagerly (jax.disable_jit).
    'jax_disable_jit': _env_bool('jax_disable_jit', False),
    # None, or the Device new arrays are put on (jax.default_device).
    'jax_default_device': None,
    # None, or one of _MATMUL_PRECISIONS: what a dot_general given no precision takes.
    'jax_default_matmul_precision': os.environ.get('JAX_DEFAULT_MATMUL_PRECISION') or None,
}
_values = dict(_DEFAULTS)
_listeners = []
# Options that change what tracing produces (default dtypes, the precision baked into each
# dot_general): jit and pmap key their caches on these values.
_TRACE_OPTIONS = ('jax_enable_x64', 'jax_default_matmul_precision')
_trace_context = tuple(_values[k] for k in _TRACE_OPTIONS)
# JAX's accepted values (it also takes lax.DotAlgorithmPreset names, which tinyjax lacks).
_MATMUL_PRECISIONS = ['default', 'high', 'highest', 'bfloat16', 'tensorfloat32', 'float32']


def _check(name, value):
    if name == 'jax_default_matmul_precision' and value is not None and \
            not (isinstance(value, str) and value in _MATMUL_PRECISIONS):
        raise ValueError(f'{name}: new enum value must be None or in {_MATMUL_PRECISIONS}, '
                         f'got {value!r} of type {type(value)}; for full float32 matmuls '
                         "use 'float32' (or 'highest').")


_check('jax_default_matmul_precision', _values['jax_default_matmul_precision'])
# JAX's older spelling of an option, read and written as the newer one.
_ALIASES = {'jax_platform_name': 'jax_platforms'}


class Config:
    """Mirrors `jax.config`: `update(name, value)` and attribute reads."""

    def update(self, name, value):
        name = _ALIASES.get(name, name)
        if name not in _values:
            raise AttributeError(f'Unrecognized config option: {name!r}; '
                                 f'tinyjax knows {sorted(_values)}')
        global _trace_context
        _check(name, value)
        _values[name] = value
        _trace_context = tuple(_values[k] for k in _TRACE_OPTIONS)
        for fn in _listeners:
            fn(name, value)

    def read(self, name):
        return _values[_ALIASES.get(name, name)]

    def config_with_absl(self):
        """Define an absl flag per option (--jax_enable_x64 and so on), as JAX does for
        programs run with `absl.app.run(main)`: each flag's value is applied when absl
        parses the command line (through a validator, which absl runs on every set)."""
        from absl import flags   # lazy: absl is optional, wanted only by absl programs
        define = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer}
        for name, value in _values.items():
            if name in flags.FLAGS or name == 'jax_default_device':
                continue
            kind = define.get(type(value), flags.DEFINE_string)
            kind(name, value, f'tinyjax config option {name} (jax.config.update)')
            flags.register_validator(name, lambda v, name=name: self._from_flag(name, v))

    def _from_flag(self, name, value):
        value = None if value == '' else value     # an empty string option: unset
        if value != _values[name]:
            self.update(name, value)
        return True

    def __getattr__(self, name):
        if _ALIASES.get(name, name) in _values:
            return _values[_ALIASES.get(name, name)]
        raise AttributeError(name)


config = Config()


def read(name):
    return _values[name]


def trace_context():
    """The option values that tracing depends on, as one hashable tuple (a cache-key part)."""
    return _trace_context


@contextlib.contextmanager
def default_matmul_precision(value):
    """`with tinyjax.default_matmul_precision('float32'):` as in JAX: the precision a
    dot_general traced inside takes when given none. Process-wide, not per thread."""
    old = _values['jax_default_matmul_precision']
    config.update('jax_default_matmul_precision', value)
    try:
        yield
    finally:
        config.update('jax_default_matmul_precision', old)


def on_change(fn):
    """Call fn(name, value) whenever an option changes (caches listen here)."""
    _listeners.append(fn)
    return fn


class State:
    """A config option usable as a context manager, like JAX's `jax.enable_x64`:
    `with tinyjax.enable_x64(True): ...` sets it inside and restores it after; calling
    with no value sets it to True. `.value` reads it."""

    def __init__(self, name):
        self.name = name

    @property
    def value(self):
        return _values[self.name]

    @contextlib.contextmanager
    def __call__(self, new_val=True):
        old = _values[self.name]
        config.update(self.name, new_val)
        try:
            yield
        finally:
            config.update(self.name, old)

    def __repr__(self):
        return f'State({self.name!r}, value={self.value!r})'


enable_x64 = State('jax_enable_x64')
debug_nans = State('jax_debug_nans')
debug_infs = State('jax_debug_infs')
default_device = State('jax_default_device')
_disable_jit = State('jax_disable_jit')


def disable_jit(disable=True):
    """`with tinyjax.disable_jit():` jit-wrapped functions run their Python eagerly."""
    return _disable_jit(disable)
