"""What the launch planner reads from a cubin, with no GPU: the ELF file's extent and each
kernel's register count, and the blocks of a size that fit on one SM with them.

A cubin is an ELF64 file. NVRTC's getCUBIN through CuPy 14.2 returns it one byte short
(the program header table ends one byte past the data: the driver loads it, cuobjdump
rejects it), so `well_formed` pads a cubin to the extent its own headers give. The
register count of kernel K is the EIATTR_REGCOUNT attribute of the `.nv.info` section
(a list of (format, attribute, value) records; REGCOUNT's value is the kernel's symbol
index and its count; cuobjdump -res-usage prints the same number as REG).
"""
import struct

EIFMT_NVAL, EIFMT_BVAL, EIFMT_HVAL, EIFMT_SVAL = 1, 2, 3, 4
EIATTR_REGCOUNT = 0x2f

# sm_90 (and sm_80) limits that decide how many blocks of a kernel one SM holds.
REGISTERS_PER_SM = 65536
THREADS_PER_SM = 2048
BLOCKS_PER_SM = 32
REGISTER_UNIT = 256          # registers are given to a warp in units of 256
MAX_REGISTERS_PER_THREAD = 255


def _header(data):
    if data[:4] != b'\x7fELF' or data[4] != 2 or data[5] != 1:
        raise ValueError('not a little-endian ELF64 cubin')
    phoff, shoff = struct.unpack_from('<QQ', data, 0x20)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from('<HHHHH', data, 0x36)
    return phoff, phentsize, phnum, shoff, shentsize, shnum, shstrndx


def extent(data):
    """Bytes the ELF file spans by its own headers: tables and every section's data."""
    phoff, phentsize, phnum, shoff, shentsize, shnum, _ = _header(data)
    end = max(phoff + phentsize * phnum, shoff + shentsize * shnum)
    for i in range(shnum):
        _, sh_type, _, _, off, size = struct.unpack_from('<IIQQQQ', data, shoff + i * shentsize)
        if sh_type != 8:                  # SHT_NOBITS takes no room in the file
            end = max(end, off + size)
    return end


def well_formed(data):
    """The cubin padded with zero bytes to its extent (CuPy's getCUBIN drops the last)."""
    data = bytes(data)
    missing = extent(data) - len(data)
    return data + b'\0' * missing if missing > 0 else data


def sections(data):
    """{name: (sh_type, sh_info, section bytes)} of the ELF file."""
    _, _, _, shoff, shentsize, shnum, shstrndx = _header(data)
    heads = []
    for i in range(shnum):
        name, sh_type, _, _, off, size, _, info = struct.unpack_from(
            '<IIQQQQII', data, shoff + i * shentsize)
        heads.append((name, sh_type, info, data[off:off + size] if sh_type != 8 else b''))
    strtab = heads[shstrndx][3]
    out = {}
    for name, sh_type, info, body in heads:
        end = strtab.index(b'\0', name)
        out[strtab[name:end].decode()] = (sh_type, info, body)
    return out


def _symbols(secs):
    """Symbol index -> name, from .symtab."""
    if '.symtab' not in secs or '.strtab' not in secs:
        return {}
    tab, names = secs['.symtab'][2], secs['.strtab'][2]
    out = {}
    for i in range(len(tab) // 24):
        name = struct.unpack_from('<I', tab, i * 24)[0]
        out[i] = names[name:names.index(b'\0', name)].decode()
    return out


def _attributes(body):
    """(attribute, value bytes) records of an .nv.info section."""
    pos = 0
    while pos + 2 <= len(body):
        fmt, attr = body[pos], body[pos + 1]
        if fmt == EIFMT_SVAL:
            size = struct.unpack_from('<H', body, pos + 2)[0]
            yield attr, body[pos + 4:pos + 4 + size]
            pos += 4 + size
        elif fmt in (EIFMT_HVAL, EIFMT_BVAL):
            yield attr, body[pos + 2:pos + 4]
            pos += 4
        elif fmt == EIFMT_NVAL:
            yield attr, b''
            pos += 2
        else:
            raise ValueError(f'.nv.info: unknown record format {fmt} at byte {pos}')


def register_counts(data):
    """{kernel name: registers per thread} of every kernel in the cubin."""
    secs = sections(well_formed(data))
    counts = {}
    symbols = _symbols(secs)
    if '.nv.info' in secs:
        for attr, value in _attributes(secs['.nv.info'][2]):
            if attr == EIATTR_REGCOUNT and len(value) == 8:
                sym, regs = struct.unpack('<II', value)
                if sym in symbols:
                    counts[symbols[sym]] = regs
    return counts


def blocks_per_sm(registers, threads, shared_bytes=0, shared_per_sm=228 * 1024):
    """Blocks of `threads` threads with `registers` registers each that one SM holds at
    once (at least 1: a launch that fits nowhere fails at launch, not here)."""
    warps = -(-threads // 32)
    per_warp = -(-max(registers, 1) * 32 // REGISTER_UNIT) * REGISTER_UNIT
    fit = min(THREADS_PER_SM // (warps * 32), REGISTERS_PER_SM // (per_warp * warps), BLOCKS_PER_SM)
    if shared_bytes:
        fit = min(fit, shared_per_sm // shared_bytes)
    return max(1, fit)
