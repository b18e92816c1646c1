"""Matmul precision: `lax.Precision`, how a `precision=` argument is canonicalised (as JAX
does it), and what each level means on each device.

On the CPU every level computes in full precision, as JAX's CPU backend does.
"""
import enum

from tinyjax import config


class Precision(enum.Enum):
    """JAX's precision levels for dot_general; strings and ints name them too."""
    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value):
        return _STRINGS.get(value) if isinstance(value, (str, type(None))) else None

    def __repr__(self):
        return f'Precision.{self.name}'

    def __str__(self):
        return self.name


_STRINGS = {
    'highest': Precision.HIGHEST, 'float32': Precision.HIGHEST,
    'high': Precision.HIGH, 'bfloat16_3x': Precision.HIGH, 'tensorfloat32': Precision.HIGH,
    'default': Precision.DEFAULT, 'bfloat16': Precision.DEFAULT, 'fastest': Precision.DEFAULT,
    None: Precision.DEFAULT,
}


def canonicalize_precision(precision, op='dot_general'):
    """None, a string, a Precision or a pair of either -> None or (Precision, Precision).

    None takes `jax_default_matmul_precision` at trace time, so the setting is baked
    into the graph (and jit keys its cache on it), as in JAX."""
    if precision is None:
        default = config.read('jax_default_matmul_precision')
        return None if default is None else canonicalize_precision(default, op)
    if isinstance(precision, str) and precision in _STRINGS:
        return Precision(precision), Precision(precision)
    if isinstance(precision, Precision):
        return precision, precision
    if isinstance(precision, (list, tuple)) and len(precision) == 2:
        if all(isinstance(p, Precision) for p in precision):
            return tuple(precision)
        if all(isinstance(p, str) for p in precision):
            return tuple(canonicalize_precision(p, op)[0] for p in precision)
    raise ValueError(
        f'{op}: precision argument must be one of:\n'
        '- None,\n'
        f'- a string in {[s for s in _STRINGS if s is not None]},\n'
        '- a lax.Precision value,\n'
        '- a tuple of two lax.Precision values or strings;\n'
        f'but got {precision!r}. For full float32 accuracy pass precision="highest" '
        '(lax.Precision.HIGHEST). tinyjax does not support lax.DotAlgorithm presets.')
