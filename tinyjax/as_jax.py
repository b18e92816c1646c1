"""`install_as_jax()`: run a library written for JAX (optax, ...) on tinyjax unchanged.

After the call, `import jax` gives `tinyjax`, and `import jax.X.Y` gives `tinyjax.X.Y`
for every module tinyjax has under JAX's path (jax.numpy, jax.lax, jax.extend.core,
jax.scipy.special, ...). It works by an import finder rather than a fixed list, so a
module added to tinyjax under JAX's name is importable as JAX's with no change here.
Call it before the library is imported: a library binds `jax` when it is imported.
"""
import importlib
import importlib.abc
import importlib.util
import sys


class _AliasLoader(importlib.abc.Loader):
    """Hands out the already-imported tinyjax module as the `jax...` module."""

    def __init__(self, module):
        self.module = module

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        pass    # the tinyjax module ran when it was imported under its own name


class _JaxAliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'jax' and not fullname.startswith('jax.'):
            return None
        target_name = 'tinyjax' + fullname[len('jax'):]
        try:
            module = importlib.import_module(target_name)
        except ModuleNotFoundError as e:
            if e.name != target_name:
                raise           # the tinyjax module exists but an import inside it failed
            return None         # tinyjax has no such module: the import fails as usual
        return importlib.util.spec_from_loader(fullname, _AliasLoader(module),
                                               is_package=hasattr(module, '__path__'))


_finder = _JaxAliasFinder()


def install_as_jax():
    """Make `import jax` (and `import jax.<submodule>`) import tinyjax's modules.

    Raises RuntimeError if a real `jax` was imported already in this process: the two
    cannot both answer to the name.
    """
    existing = sys.modules.get('jax')
    if existing is not None and not existing.__name__.startswith('tinyjax'):
        raise RuntimeError(
            'install_as_jax: the real jax is already imported in this process '
            f'({getattr(existing, "__file__", existing)}); call tinyjax.install_as_jax() '
            'before anything imports jax')
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    sys.modules['jax'] = sys.modules['tinyjax']   # the package this module belongs to
