"""The package's layering, read from its source: every import (module level or inside a
function) must point down the declared layer order or stay within its layer; module
cycles must be ones listed here; imports inside functions are for optional dependencies
only, each with a one-line reason; the core, the compiler and the CUDA backend keep a line
budget; and `import tinyjax` registers every primitive. docs/architecture.md shows the
same layers."""
import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PKG = ROOT / 'tinyjax'

# Bottom to top. A module belongs to the layer of its longest listed prefix.
LAYERS = [
    ('base', ['tinyjax.config', 'tinyjax.errors', 'tinyjax.dtypes', 'tinyjax.version',
              'tinyjax.kernels_path', 'tinyjax.tree_util', 'tinyjax.tree_keys', 'tinyjax.tree',
              'tinyjax.files']),
    ('core', ['tinyjax.core']),                  # IR, primitives, tracing, lowering kinds
    ('backends', ['tinyjax.backends', 'tinyjax.sharding']),  # devices, array layouts
    ('compiler', ['tinyjax.compiler']),          # graph -> kernels -> Program (hands off to backends)
    ('interpreters', ['tinyjax.interpreters']),  # JVP, partial eval, transpose, batching
    ('ops', ['tinyjax.ops', 'tinyjax.extend']),  # primitives, each with all its rules (extend: JAX's names for them)
    ('lax', ['tinyjax.lax', 'tinyjax.ref']),
    ('transforms', ['tinyjax.transforms']),      # grad, vmap, jit, pmap entry points
    ('numpy', ['tinyjax.numpy', 'tinyjax.dlpack', 'tinyjax.callback', 'tinyjax.debug',
               'tinyjax.api']),
    ('libraries', ['tinyjax.nn', 'tinyjax.random', 'tinyjax.scipy', 'tinyjax.optimizers',
                   'tinyjax.test_util', 'tinyjax.distributed', 'tinyjax.experimental']),
    ('tools', ['tinyjax.profiler', 'tinyjax.profile', 'tinyjax.examples', 'tinyjax']),
]

# Edges against the order that stay, each with its reason.
ALLOWED_UPWARD = {
    ('tinyjax.backends.cpu', 'tinyjax.compiler.hostcc'):
        'the host kernel launcher (kernels/tj_pylaunch.cpp) is built by the host compiler',
    ('tinyjax.backends.blas', 'tinyjax.compiler.hostcc'):
        'big matmuls run on the host launcher\'s pool (its gemm), built by the host compiler',
    ('tinyjax.backends.simt', 'tinyjax.compiler.hostcc'):
        'the SIMT runtime and the modules it loads are built by the host compiler',
    ('tinyjax.backends.simt', 'tinyjax.compiler.headers'):
        'the SIMT runtime source includes the kernel headers',
    ('tinyjax.backends.emulated.launch', 'tinyjax.compiler.hostcc'):
        "the emulated GPU runs a launch as the host build of the kernel's source",
}

# Module cycles that stay, each with its reason; any other cycle fails.
KNOWN_CYCLES = [
    ({'tinyjax.tree_util', 'tinyjax.tree_keys'},
     'tree_util re-exports the key-path API at its end'),
    ({'tinyjax.nn', 'tinyjax.nn.attention'},
     'tinyjax.nn re-exports dot_product_attention at its end'),
    ({'tinyjax.ops.elementwise', 'tinyjax.ops.reduction', 'tinyjax.ops.structural'},
     "their rules call each other (a broadcast's transpose is a sum and a sum's a "
     'broadcast), as in the one module JAX keeps them in; every call is at run time'),
]

# Imports inside functions: optional dependencies only.
LAZY_OK = ('cupy', 'cupyx', 'cupy_backends', 'matplotlib', 'sklearn', 'mpi4py', 'absl')

# Lines of the core, the compiler and the CUDA backend together (tinygrad keeps such a
# budget): growth there should be a decision.
# 3400 at issue 17; +60 (issue 18): vector row folds, column kernels; +240 as issues 15,
# 16 and 14 landed together (the jaxpr object model in core/ir, call inlining and exact
# fma in passes, core/varying for shard_map (since replaced by vma types), the SIMT
# module build, the cubin reader);
# +180 (issue 19): per-thread tracing state, the bounded and self-healing kernel cache;
# +30 (issue 18, second round): row kernels store a costly operand for their epilogue;
# +10 (issue 15): the emitter's if/else branches (concatenate computes one piece);
# +10 (issues 16 and 18): ops on sharded arrays outside jit, jit arguments' shardings in
# their types, a row's divisor as one reciprocal;
# +20 (issue 18): host loop kernels that read a broadcast operand walk rows (_host_rows);
# +30 (issue 18): kernels recompute a cheap value a product also reads instead of reading
# it back (fusion.recompute_in_kernels: the MLP's ReLU gradients read a third less), and
# selects as tj_select, which g++ cannot turn into a branch.
LINE_BUDGET = 4050
BUDGETED = ['core/*.py', 'compiler/*.py', 'backends/cuda.py']


def _modules():
    mods = {}
    for path in PKG.rglob('*.py'):
        rel = path.relative_to(ROOT).with_suffix('')
        name = '.'.join(rel.parts)
        mods[name[:-len('.__init__')] if name.endswith('.__init__') else name] = path
    return mods


def _target(node, alias, mods):
    if isinstance(node, ast.Import):
        return alias.name
    sub = f'{node.module}.{alias.name}'
    return sub if sub in mods else node.module


def _imports(mods):
    """(importer, imported, line, inside a function, the statement's source line)."""
    out = []
    for name, path in mods.items():
        lines = path.read_text().split('\n')

        def visit(node, in_fn):
            for ch in ast.iter_child_nodes(node):
                if isinstance(ch, (ast.Import, ast.ImportFrom)) and not getattr(ch, 'level', 0):
                    for alias in ch.names:
                        out.append((name, _target(ch, alias, mods), ch.lineno, in_fn,
                                    lines[ch.lineno - 1]))
                visit(ch, in_fn or isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                   ast.Lambda)))
        visit(ast.parse(path.read_text()), False)
    return out


def _layer(module):
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + '.')) and len(p) > best:
                best, rank = len(p), i
    return rank


def _cycles(mods, edges):
    index, low, stack, on, found = {}, {}, [], set(), []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(comp)
    for v in sorted(mods):
        if v not in index:
            strong(v)
    return found


def test_every_module_has_a_layer():
    assert [m for m in _modules() if _layer(m) is None] == []


def test_imports_point_down_the_layers():
    mods = _modules()
    bad = []
    for src, dst, line, _, _ in _imports(mods):
        if dst.startswith('tinyjax') and dst in mods and _layer(dst) > _layer(src) \
                and (src, dst) not in ALLOWED_UPWARD:
            bad.append(f'{src} ({LAYERS[_layer(src)][0]}) imports {dst} '
                       f'({LAYERS[_layer(dst)][0]}) at line {line}')
    assert bad == [], 'imports against the layer order:\n' + '\n'.join(bad)


def test_no_new_import_cycles():
    mods = _modules()
    edges = {}
    for src, dst, _, _, _ in _imports(mods):
        if dst in mods:
            edges.setdefault(src, set()).add(dst)
    new = [sorted(c) for c in _cycles(mods, edges)
           if not any(c <= known for known, _ in KNOWN_CYCLES)]
    assert new == [], f'import cycles not in KNOWN_CYCLES: {new}'


def test_imports_inside_functions_are_optional_dependencies_with_a_reason():
    bad = []
    for src, dst, line, in_fn, text in _imports(_modules()):
        if not in_fn:
            continue
        if not (dst.split('.')[0] in LAZY_OK or dst.startswith(LAZY_OK)):
            bad.append(f'{src}:{line} imports {dst} inside a function')
        elif '# lazy:' not in text:
            bad.append(f'{src}:{line}: a lazy import needs a "# lazy: <reason>" comment')
    assert bad == [], '\n'.join(bad)


def test_line_budget_of_core_compiler_and_cuda_backend():
    total = sum(len(p.read_text().split('\n')) - 1 for pattern in BUDGETED
                for p in PKG.glob(pattern))
    assert total <= LINE_BUDGET, (f'core + compiler + backends/cuda.py: {total} lines, '
                                  f'budget {LINE_BUDGET}')


def test_import_registers_every_primitive():
    # A fresh interpreter: what `import tinyjax` alone registers (cond, while, scan and
    # the collectives included), not what earlier tests happened to import.
    code = ('import tinyjax\nfrom tinyjax.core.primitive import registry\n'
            'print(" ".join(sorted(registry)))')
    names = set(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                               check=True, cwd=ROOT).stdout.split())
    expected = {'cond', 'while', 'scan', 'psum', 'pmax', 'pmin', 'all_gather', 'psum_scatter',
                'ppermute', 'all_to_all', 'axis_index', 'dot_general', 'add', 'checkpoint'}
    assert expected <= names, sorted(expected - names)
    assert len(names) >= 126
