#!/usr/bin/env bash
# The most verified in the least GPU time: one command, at most 8 minutes on a fresh H200.
#
#   bash bench/gpu_session.sh OUTDIR [--peers LIST] [--budget SECONDS] [--dry-run]
#
# Run from the repository root (tinyjax is imported from the checkout). Steps, in order,
# each with its own limit cut to what is left of the budget (default 450 s; a step with
# under 15 s left is skipped), each logged separately, a failing step never stopping
# the next:
#
#   step             limit   what it answers
#   environment        20 s  nvidia-smi; driver, CUDA runtime, NVRTC, CuPy, NCCL, JAX, torch; devices
#   cubin_smoke        45 s  open question 1: an NVRTC cubin loads and runs under this driver;
#                            a jitted softmax + sum + matmul against NumPy
#   pytest_gpu        120 s  the gpu-marked tests (NCCL ranks, cuBLAS plan, TF32, zero-copy, profiler)
#   launch_overhead    40 s  open question 3: host cost of a launch, a graph replay, jit(x+1)
#   bench_full_sum     40 s  bench/run.py headline cases, one process each, so a crash or a
#   bench_rowwise      50 s  timeout costs one case; JSON written after every case
#   bench_mlp_step     60 s  (peers: --peers, default jax,torch,cupy,cupy.fuse; torch.compile
#   bench_fused_chain  45 s  only when named, its compiles take tens of seconds per case)
#   kernel_tests     rest    the kernel tests on CuPy (jit, reductions, vector path, fusion,
#                            random, trainer, pmap on 8 logical devices), at most 10
#                            failures, with the time left
#
# 20+45+120+40+195 = 420 s before the kernel tests, which get the rest of the default
# 450 s budget; with the archive the command ends within 8 minutes. The kernel cache lives outside OUTDIR
# (TINYJAX_CACHE_DIR, default /tmp/tinyjax-gpu-session-cache), so a rerun starts warm and
# the results stay small. OUTDIR receives two files: summary.txt (one page: every step's
# status and time, the pytest verdicts, the launch costs, the bench ratios) and
# gpu_session.tar.gz (every log and JSON, and summary.txt again).
#
# --dry-run runs the same steps without a GPU on tinyjax's emulated device
# (TINYJAX_PLATFORM=gpu-emulated: the CUDA backend on host memory, see
# tinyjax/backends/emulated) with the bench's small sizes: it checks the script and
# everything it drives except the driver, the real kernels' speed and NCCL's transport.
set -u
usage='usage: bash bench/gpu_session.sh OUTDIR [--peers LIST] [--budget SECONDS] [--dry-run]'
out=${1:?$usage}
shift
peers=default budget=450 dry=0
while [ $# -gt 0 ]; do
    case $1 in
    --peers) peers=${2:?$usage}; shift 2 ;;
    --budget) budget=${2:?$usage}; shift 2 ;;
    --dry-run) dry=1; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
    esac
done
[ "$peers" = default ] && peers=jax,torch,cupy,cupy.fuse

mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu_session.XXXXXX")
status="$work/steps.txt"
: >"$status"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export TINYJAX_CACHE_DIR="${TINYJAX_CACHE_DIR:-${TMPDIR:-/tmp}/tinyjax-gpu-session-cache}"
# The device compiles every module for itself: the suite's extra sm_90/sm_80 NVRTC
# check would only double the compile time here.
export TINYJAX_NVRTC_CHECK=''
py=${PYTHON:-python3}
small=()
if [ "$dry" = 1 ]; then
    export TINYJAX_PLATFORM=gpu-emulated
    small=(--small)
else
    export TINYJAX_PLATFORM=cuda
fi

step() {   # step NAME SECONDS COMMAND...: run with a time limit, log, record the status
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS left=$((budget - SECONDS))
    if [ "$left" -lt 15 ]; then
        printf '%-18s rc=%-5s %4ss\n' "$name" skip 0 | tee -a "$status"
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    # SIGINT first: pytest then prints its failures so far, bench/run.py has its JSON.
    timeout -s INT -k 10 "$limit" "$@" >"$work/$name.log" 2>&1
    local rc=$?
    [ "$rc" = 124 ] && rc=time
    printf '%-18s rc=%-5s %4ss\n' "$name" "$rc" "$((SECONDS - t0))" | tee -a "$status"
}

# The steps' Python, written where the logs go (timeout runs programs, not shell functions).
cat >"$work/environment.py" <<'EOF'
import importlib, platform, shutil, subprocess
import tinyjax                      # first: a dry run puts the emulated CuPy in place
import numpy, cupy
if shutil.which('nvidia-smi'):
    print(subprocess.run(['nvidia-smi', '--query-gpu=name,driver_version,memory.total,clocks.max.sm',
                          '--format=csv'], capture_output=True, text=True).stdout.strip())
else:
    print('nvidia-smi: not found')
print('python', platform.python_version(), 'numpy', numpy.__version__, 'cupy', cupy.__version__)
print('cuda runtime', cupy.cuda.runtime.runtimeGetVersion(), 'driver', cupy.cuda.runtime.driverGetVersion())
from tinyjax.compiler import nvrtc
print('nvrtc', nvrtc.version())
from tinyjax.backends import collectives
print('nccl', collectives.nccl_version())
for name in ('jax', 'torch'):
    try:
        m = importlib.import_module(name)
        extra = m.default_backend() if name == 'jax' else f'cuda {m.cuda.is_available()}'
        print(name, m.__version__, extra)
    except Exception as e:
        print(name, 'unavailable:', type(e).__name__)
print('tinyjax devices', tinyjax.devices())
EOF

cat >"$work/cubin_smoke.py" <<'EOF'
import numpy as np
import tinyjax as jax, tinyjax.numpy as jnp
dev = jax.devices()[0]
print('device', dev, dev.device_kind, dev.arch, dev.sm_count, 'SMs')
x = np.random.default_rng(0).standard_normal((1000, 300)).astype(np.float32)
def f(x):
    e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True), jnp.sum(x * x), jnp.matmul(x, x.T, precision='highest')
outs = jax.jit(f)(jnp.asarray(x))
e = np.exp(x - x.max(-1, keepdims=True))
refs = (e / e.sum(-1, keepdims=True), (x.astype(np.float64) ** 2).sum(), x @ x.T)
for o, r in zip(outs, refs):
    assert o.device.platform == 'gpu'
    np.testing.assert_allclose(np.asarray(o), r, rtol=2e-4, atol=1e-4)
print('cubin smoke: ok (NVRTC cubins loaded and ran; softmax, sum and matmul match NumPy)')
EOF

step environment 20 $py "$work/environment.py"
step cubin_smoke 45 $py "$work/cubin_smoke.py"
step pytest_gpu 120 $py -m pytest -q -m gpu -p no:cacheprovider tests
step launch_overhead 40 $py bench/launch_overhead.py --json "$work/launch_overhead.json"
for case_limit in full_sum:40 rowwise:50 mlp_step:60 fused_chain:45; do
    case=${case_limit%:*}
    step "bench_$case" "${case_limit#*:}" $py bench/run.py --case "$case" --peers "$peers" \
        --repeats 5 ${small[@]+"${small[@]}"} --json "$work/bench_$case.json"
done
# Eight logical devices on the one GPU, so the pmap tests (written for 8 devices) run.
step kernel_tests 600 env TINYJAX_NUM_GPU_DEVICES=8 $py -m pytest -q --maxfail=10 -p no:cacheprovider \
    tests/test_jit.py tests/test_jit_reduce.py tests/test_vector_path.py \
    tests/test_horizontal_fusion.py tests/test_jit_fusion.py tests/test_random_jit.py \
    tests/test_train_mlp.py tests/test_pmap.py tests/test_jit_prims.py

$py - "$work" "$budget" "$dry" >"$work/summary.txt" <<'EOF'
import glob, json, os, sys, time
work, budget, dry = sys.argv[1], sys.argv[2], sys.argv[3] == '1'

def tail(name, n=1):
    try:
        with open(os.path.join(work, name + '.log')) as f:
            lines = [l.rstrip() for l in f if l.strip()]
        return lines[-n:]
    except OSError:
        return ['(no log)']

print(f'tinyjax GPU session {time.strftime("%Y-%m-%d %H:%M:%S %Z")}, budget {budget} s'
      + (' -- DRY RUN on the emulated device (no GPU: timings mean nothing)' if dry else ''))
print('\n== steps (rc: exit status, time = killed at its limit, skip = no time left)')
print(open(os.path.join(work, 'steps.txt')).read().rstrip())
print('\n== environment')
print('\n'.join(tail('environment', 12)))
print('\n== verdicts')
for name in ('cubin_smoke', 'pytest_gpu', 'kernel_tests'):
    print(f'{name}: ' + ' | '.join(tail(name, 1)))
print('\n== launch overhead (us)')
try:
    lo = json.load(open(os.path.join(work, 'launch_overhead.json')))
    print(', '.join(f'{k}={v:.3g}' if isinstance(v, float) else f'{k}={v}' for k, v in lo.items()
                    if k not in ('device', 'cupy', 'nvrtc')))
except (OSError, ValueError) as e:
    print('(none:', type(e).__name__ + ')')
print('\n== bench: tinyjax median (min), % of limit, peer/tinyjax median (min) ratios')
for path in sorted(glob.glob(os.path.join(work, 'bench_*.json'))):
    try:
        res = json.load(open(path))
    except ValueError:
        continue
    for r in res['records']:
        ratios = ', '.join(f'{p} {t:.2f} ({r.get("ratios_min", {}).get(p, float("nan")):.2f})'
                           for p, t in r.get('ratios', {}).items())
        frac = f'{100 * r["fraction_of_limit"]:.0f}% of {r["limit"]}' if r.get('fraction_of_limit') else '-'
        busy = ' [busy]' if r.get('load_note') else ''
        print(f'{r["case"]:<11} {r["variant"][:34]:<34} {r["seconds"] * 1e6:9.1f} us '
              f'({r.get("seconds_min", r["seconds"]) * 1e6:.1f}) {frac:<22} {ratios}{busy}')
EOF
cp "$work/summary.txt" "$out/summary.txt"
tar czf "$out/gpu_session.tar.gz" -C "$work" .
rm -rf "$work"
cat "$out/summary.txt"
echo "results: $out/summary.txt and $out/gpu_session.tar.gz (${SECONDS}s in all)"
