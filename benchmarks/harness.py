"""What every benchmark measures a stage with: a fresh process per run, its time and its peak memory.

Each run is a spawned process, so one stage's imports, caches and memory never reach the next
(``_stage`` functions of the scripts are called there by reference). Peak memory is the process's own
VmHWM, which, unlike ``ru_maxrss``, starts afresh in a spawned process.
"""

from __future__ import annotations

import multiprocessing
import platform
import resource
from collections.abc import Callable
from pathlib import Path


def peak_memory_mb() -> float:
    """This process's peak resident memory in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(stage: Callable, args: tuple, queue) -> None:
    queue.put((stage(*args), peak_memory_mb()))


def measure_in_fresh_processes(stage: Callable, args: tuple, repeats: int) -> tuple[list, list[float]]:
    """``stage(*args)`` run ``repeats`` times, each in a fresh process: what each run returned, and its peak MB."""
    context = multiprocessing.get_context("spawn")
    results, peaks = [], []
    for _ in range(repeats):
        queue = context.Queue()
        process = context.Process(target=_child, args=(stage, args, queue))
        process.start()
        result, peak = queue.get()
        process.join()
        results.append(result)
        peaks.append(peak)
    return results, peaks


def describe_machine() -> str:
    """The machine a benchmark ran on, as every results section states it."""
    return (
        f"{platform.machine()}, {multiprocessing.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def write_section(results: Path, heading: str, section: str) -> None:
    """Put ``section`` into ``results`` (benchmarks/results.md) in place of an earlier one under ``heading``.

    An earlier section runs to the next heading of its level; with none, the section goes at the end.
    """
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    if heading in text:
        before, after = text.split(heading, 1)
        rest = after.split("\n## ", 1)
        text = before + section + ("\n## " + rest[1] if len(rest) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    results.write_text(text)
