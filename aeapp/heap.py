"""How this process's heap gives memory back after a network pass: at once in a server over
its memory limit, not until the end in a batch job.

Every pass allocates and frees hundreds of megabytes. By default glibc serves blocks over
its mmap threshold with fresh pages from the kernel, which are faulted in and zeroed on
first touch, pass after pass, and the engine hands the rest of the freed heap back after
each pass (`release_freed_memory`) so a server's resident memory stays flat. Keeping freed
pages for the next pass instead (`keep_freed_memory`: every block from the heap, the heap
not trimmed while resident memory is under a limit) saves that work: 0.70 to 0.93 of the
time per repair on 2 cores of an AVX2 EPYC. A batch job (the CLI) keeps them without limit
(`batch_mode`); the app up to a limit of resident memory, above which it trims as before
(under bench/load_test.py a lone user's requests take 0.85 to 0.90 of the time, and memory
rises and falls under the limit instead of climbing).
"""

from __future__ import annotations

import ctypes
import math
import os
from contextlib import contextmanager

try:
    _glibc = ctypes.CDLL("libc.so.6")
    _malloc_trim, _mallopt = _glibc.malloc_trim, _glibc.mallopt
except (OSError, AttributeError):  # not glibc: the allocator manages this itself
    _malloc_trim = _mallopt = None

# glibc's mallopt parameters, and the defaults `batch_mode` puts back
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
_PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 2**20

_kept_mib = 0.0  # resident memory up to which freed pages are kept (0: none, inf: all)


def resident_mib() -> float:
    """This process's resident memory in MiB (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE_MIB
    except (OSError, ValueError, IndexError):
        return 0.0


def release_freed_memory() -> None:
    """After a network pass: hand freed heap pages back to the OS, unless they are kept
    (`keep_freed_memory`) and resident memory is within the limit. Requests of many image
    sizes, from many server threads, leave glibc's heaps fragmented: without a limit a
    long-running server's resident memory creeps up although nothing leaks."""
    if _malloc_trim is None or _kept_mib == math.inf:
        return
    if _kept_mib == 0.0 or resident_mib() > _kept_mib:
        _malloc_trim(0)


def keep_freed_memory(up_to_mib: float = math.inf) -> bool:
    """From now on serve every block from the heap (none from mmap) and keep freed pages for
    the next pass while resident memory is at most `up_to_mib`; True when the allocator took
    it (glibc)."""
    global _kept_mib
    took = _mallopt is not None and _mallopt(_M_MMAP_MAX, 0) == 1 and _mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
    _kept_mib = float(up_to_mib) if took else 0.0
    return took


def hand_back_freed_memory() -> None:
    """The default again: large blocks from mmap, freed pages handed back after every pass."""
    global _kept_mib
    _kept_mib = 0.0
    if _mallopt is not None:
        _mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        _mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
    release_freed_memory()


@contextmanager
def keeping_freed_memory(up_to_mib: float):
    """Inside the block, freed memory kept up to `up_to_mib` of resident memory (0: handed
    back after every pass); the policy before it put back at its end. Yields whether the
    allocator took it."""
    before = _kept_mib
    if up_to_mib:
        took = keep_freed_memory(up_to_mib)
    else:
        hand_back_freed_memory()
        took = True
    try:
        yield took
    finally:
        if before:
            keep_freed_memory(before)
        else:
            hand_back_freed_memory()


def batch_mode():
    """Freed memory kept without limit inside the block: for one thread working through
    images (the CLI, a script), not for a server."""
    return keeping_freed_memory(math.inf)


def limit_arenas(count: int = 2) -> bool:
    """Cap glibc's heaps ("arenas") for a server process; True when the cap was set.

    glibc gives threads their own heaps, up to 8 per core, and the web server's worker
    threads fragment them with images of many sizes: under bench/load_test.py resident memory
    still climbed 36 to 58 MiB per 200 requests with `malloc_trim`; with 2 arenas it rose
    9 MiB over 400 requests, at the same latency (the same as MALLOC_ARENA_MAX=2)."""
    return _mallopt is not None and _mallopt(_M_ARENA_MAX, int(count)) == 1
