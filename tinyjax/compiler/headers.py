"""Expands `#include "tj_*.cuh"` in generated sources with the text of kernels/.

Generated kernels name the hand-written headers they use; before compiling, the
includes are replaced by the headers' text (each once), so the compiled source is
self-contained: NVRTC needs no -I, the cache key covers the headers' content, and a
source saved after a compile error is complete.
"""
import re

from tinyjax.kernels_path import kernels_dir

_INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"\s*$', re.M)


def read_header(name):
    return (kernels_dir() / name).read_text()


def expand(source, done=None):
    done = set() if done is None else done

    def repl(m):
        name = m.group(1)
        if name in done:
            return ''
        done.add(name)
        text = read_header(name).replace('#pragma once', '')
        return f'// ---- {name} ----\n' + expand(text, done)
    return _INCLUDE.sub(repl, source)
