"""tinyjax.profiler: which kernels ran, how long each took, how much memory it moved,
how close it came to the device's limits, and what fusion saved.

    report = tinyjax.profiler.profile(f, *args)       # fused vs unfused, per kernel
    print(report); report.to_json(); report.to_chrome_trace('t.json'); report.plot('t.png')

    with tinyjax.profiler.trace('/tmp/trace'):        # JAX's API: a Chrome trace of
        f(*args)                                      # every kernel launched meanwhile

`python -m tinyjax.profile script.py` profiles every jitted function a script calls.
A package rather than the single profiler.py of the design brief: the report, the
roofline, the trace session and the timers are separate concerns of a few hundred lines.
"""
from tinyjax.profiler.measure import profile, profile_call, rejit  # noqa: F401
from tinyjax.profiler.report import KernelRow, Report, Side  # noqa: F401
from tinyjax.profiler.roofline import device_info, roofline as device_roofline  # noqa: F401
from tinyjax.profiler.trace import (  # noqa: F401
    TraceAnnotation, StepTraceAnnotation, annotate_function, start_trace, stop_trace, trace)
