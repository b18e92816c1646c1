"""Reading the SASS of a cubin with cuobjdump (the nvidia-cuda-cuobjdump and
nvidia-cuda-nvdisasm wheels, or a CUDA toolkit on PATH), with no GPU.

The checks that matter for memory-bound kernels are visible in the machine code: a
vector path moves 16 bytes per load and store (LDG.E.128 / STG.E.128), a reduction loop
has several loads in flight (more than one global load between a loop's head and its
backward branch), and nothing spills to local memory (no LDL/STL, LOCAL:0 in the
resource usage). tests/test_sass.py asserts these for the bench's kernels.
"""
import functools
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile

from tinyjax.backends import cubin as cubin_file


@functools.lru_cache(None)
def tools():
    """(cuobjdump, nvdisasm) paths, or None when either is missing (cuobjdump -sass runs
    nvdisasm)."""
    found = {}
    spec = importlib.util.find_spec('nvidia')
    roots = list(spec.submodule_search_locations) if spec and spec.submodule_search_locations else []
    for name in ('cuobjdump', 'nvdisasm'):
        path = shutil.which(name)
        for root in roots:
            for sub in ('cu13/bin', 'cuda_cuobjdump/bin', 'cuda_nvdisasm/bin'):
                cand = os.path.join(root, sub, name)
                if path is None and os.access(cand, os.X_OK):
                    path = cand
        found[name] = path
    if None in found.values():
        return None
    return found['cuobjdump'], found['nvdisasm']


def _run(args, data):
    cuobjdump, nvdisasm = tools()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'module.cubin')
        with open(path, 'wb') as f:
            f.write(data)
        env = dict(os.environ, PATH=os.path.dirname(nvdisasm) + os.pathsep + os.environ.get('PATH', ''))
        proc = subprocess.run([cuobjdump, *args, path], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f'cuobjdump {" ".join(args)} failed: {proc.stderr.strip()}')
    return proc.stdout


_FUNCTION = re.compile(r'^\s*Function\s*:\s*(\S+)', re.M)
_INSTR = re.compile(r'/\*([0-9a-f]{4,})\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)([^;]*);')


def disassemble(data):
    """{kernel: [(address, opcode with modifiers, operands)]} of a cubin."""
    text = _run(['-sass'], data)
    out = {}
    parts = _FUNCTION.split(text)
    for name, body in zip(parts[1::2], parts[2::2]):
        out[name] = [(int(m.group(1), 16), m.group(3), m.group(4).strip())
                     for m in _INSTR.finditer(body)]
    return out


def resource_usage(data):
    """{kernel: {'REG': n, 'STACK': n, 'SHARED': n, 'LOCAL': n, ...}} (cuobjdump -res-usage)."""
    text = _run(['-res-usage'], data)
    out = {}
    for name, body in re.findall(r'Function (\S+):\s*\n\s*(.*)', text):
        out[name] = {k: int(v) for k, v in re.findall(r'(\w+(?:\[\d+\])?):(\d+)', body)}
    return out


def loops(instructions):
    """The instructions of each innermost loop: from a backward branch's target to the
    branch, with no other backward branch in between."""
    def back(ins):
        addr, op, args = ins
        m = re.search(r'0x([0-9a-f]+)', args) if op.startswith('BRA') else None
        return int(m.group(1), 16) if m and int(m.group(1), 16) < addr else None
    out = []
    for pos, ins in enumerate(instructions):
        target = back(ins)
        if target is not None:
            body = [i for i in instructions[:pos + 1] if i[0] >= target]
            if all(back(i) is None for i in body[:-1]):
                out.append(body)
    return out


def summary(data):
    """Per kernel: registers (from the cubin), cuobjdump's resource usage, the counts of
    16-byte global loads and stores, local-memory accesses, and the most global loads
    (and 16-byte ones) in one innermost loop: the loads a thread has in flight."""
    data = cubin_file.well_formed(data)
    regs = cubin_file.register_counts(data)
    usage = resource_usage(data)
    out = {}
    for name, ins in disassemble(data).items():
        ops = [op for _, op, _ in ins]
        out[name] = {
            'registers': regs.get(name),
            'usage': usage.get(name, {}),
            'ldg128': sum(op.startswith('LDG') and '.128' in op for op in ops),
            'stg128': sum(op.startswith('STG') and '.128' in op for op in ops),
            'local': sum(op.startswith(('LDL', 'STL')) for op in ops),
            'loop_loads': max([sum(op.startswith('LDG') for _, op, _ in body)
                               for body in loops(ins)], default=0),
            'loop_vector_loads': max([sum(op.startswith('LDG') and '.128' in op
                                          for _, op, _ in body) for body in loops(ins)],
                                     default=0),
        }
    return out
