"""JAX's error classes, with messages that say what to change."""


class JaxError(Exception):
    pass


def _where(tracer):
    name = getattr(getattr(tracer, 'builder', None), 'name', None)
    return f' while tracing the function `{name}`' if name else ''


class ConcretizationTypeError(TypeError):
    def __init__(self, tracer, what='a concrete value'):
        self.tracer = tracer
        super().__init__(
            f'Abstract tracer value encountered where concrete value is expected: '
            f'{what} on a traced array {tracer.aval.str_short()}{_where(tracer)}.\n'
            'Its value is not known at trace time (for example under jit). Use '
            'jnp.where / lax.select instead of Python `if` on array values, or mark the '
            'argument static (jit(f, static_argnums=...)) so its value is known.')


class TracerBoolConversionError(ConcretizationTypeError):
    """bool() of a traced value: Python `if`/`while` on an array under jit."""


class TracerArrayConversionError(TypeError):
    def __init__(self, tracer):
        super().__init__(
            f'The numpy.ndarray conversion method __array__() was called on a traced '
            f'array {tracer.aval.str_short()}{_where(tracer)}. NumPy functions cannot '
            'see traced values: use tinyjax.numpy instead of numpy inside transformed '
            'functions.')


class NonConcreteBooleanIndexError(IndexError):
    """A boolean mask index whose value is not known at trace time (as in JAX)."""

    def __init__(self, tracer):
        super().__init__(
            f'Array boolean indices must be concrete; got {tracer.aval.str_short()}\n'
            'A boolean mask gives an output shape that depends on its values. Use '
            'jnp.where(mask, x, 0) or x.at[...] with jnp.nonzero(mask, size=...) instead.')


class TracerIntegerConversionError(TypeError):
    pass


class UnexpectedTracerError(Exception):
    def __init__(self, tracer):
        super().__init__(
            f'Encountered an unexpected tracer {tracer.aval.str_short()} from the '
            f'finished trace of `{tracer.builder.name}`. A traced value escaped its '
            'transformation (stored in a global or a closure, or returned through a side '
            'channel): return it from the function instead.')


class CompileError(RuntimeError):
    """An NVRTC or host compiler error: carries the log and the saved source path."""

    def __init__(self, message, log='', source_path=None):
        self.log, self.source_path = log, source_path
        super().__init__(message)


class JaxRuntimeError(RuntimeError):
    """A failure while a computation runs, such as a host callback whose results do not
    match the shapes and dtypes it declared."""


class ShardingTypeError(Exception):
    """Operands whose shardings cannot combine (jax's explicit-sharding type error)."""

