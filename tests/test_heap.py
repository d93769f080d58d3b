import subprocess
import sys

import numpy as np
import pytest

from aeapp import cli, heap

needs_glibc = pytest.mark.skipif(heap._mallopt is None, reason="not glibc")


@pytest.fixture(autouse=True)
def allocator_policy_put_back():
    """Each test leaves the process's allocator as it found it (an imported app keeps freed
    memory up to its limit; another test hands it back after every pass)."""
    before = heap._kept_mib
    yield
    if before:
        heap.keep_freed_memory(before)
    else:
        heap.hand_back_freed_memory()


@needs_glibc
def test_heap_arenas_can_be_capped_for_a_server():
    # In a child process: a cap cannot be lifted again, and this process's heaps stay as they are.
    child = subprocess.run([sys.executable, "-c", "from aeapp import heap; print(heap.limit_arenas(2))"],
                           capture_output=True, text=True, timeout=60)
    assert child.stdout.strip() == "True", child.stderr


def _kept_share_of_a_freed_block() -> float:
    """How much of a freshly touched 256 MB block stays resident once it is freed."""
    before = heap.resident_mib()
    block = np.ones(32_000_000)
    grown = heap.resident_mib() - before
    del block
    return (heap.resident_mib() - before) / grown


@needs_glibc
def test_batch_mode_keeps_freed_memory_and_puts_the_default_policy_back(monkeypatch):
    trims = []
    monkeypatch.setattr(heap, "_malloc_trim", trims.append)
    heap.hand_back_freed_memory()  # the default, whatever an imported app set
    trims.clear()
    heap.release_freed_memory()
    assert trims == [0]  # the default: handed back after a pass
    # By default a block this large is mmap'd and goes back to the system when freed ...
    returned = _kept_share_of_a_freed_block()
    with heap.batch_mode() as took:
        assert took
        kept = _kept_share_of_a_freed_block()
        heap.release_freed_memory()
        assert trims == [0]  # kept for the next image
    assert trims == [0, 0]  # handed back once on the way out
    heap.release_freed_memory()
    assert trims == [0, 0, 0]
    # ... in batch mode it comes from the heap and stays for the next image.
    assert returned < 0.2 and kept > 0.8


@needs_glibc
def test_a_server_keeps_freed_memory_only_under_its_limit(monkeypatch):
    trims = []
    monkeypatch.setattr(heap, "_malloc_trim", trims.append)
    heap.hand_back_freed_memory()
    trims.clear()
    try:
        resident = heap.resident_mib()
        assert resident > 10
        assert heap.keep_freed_memory(up_to_mib=resident + 4096)
        heap.release_freed_memory()
        assert trims == []  # under the limit: kept
        with heap.batch_mode():
            heap.release_freed_memory()
        assert heap._kept_mib == resident + 4096  # the limit is back after a batch
        assert trims == []
        assert heap.keep_freed_memory(up_to_mib=resident / 2)
        heap.release_freed_memory()
        assert trims == [0]  # over the limit: handed back
        with heap.keeping_freed_memory(0):
            heap.release_freed_memory()
        assert trims == [0, 0, 0]  # on entering and after the pass
    finally:
        heap.hand_back_freed_memory()


def test_every_cli_command_runs_in_batch_mode(monkeypatch, tiny_checkpoint, capsys):
    from contextlib import contextmanager

    entered = []

    @contextmanager
    def recording():
        entered.append(True)
        yield True

    monkeypatch.setattr(heap, "batch_mode", recording)
    assert cli.main(["info", str(tiny_checkpoint)]) == 0
    assert entered == [True]
