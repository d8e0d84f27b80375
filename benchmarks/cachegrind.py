"""Instructions a command executes, counted by valgrind's cachegrind: the load-proof measure.

Used by the ``*_instructions`` benchmarks and ``kafka_throughput.py --instructions``: a client
process is run under ``valgrind --tool=cachegrind --cache-sim=no`` (a broker or server in another
process is not counted) and the total of executed instructions (``I refs``) is returned. The
machine's load changes wall-clock and CPU time, not this count.
"""

from __future__ import annotations

import re
import subprocess

_TOTAL = re.compile(r"I\s+refs:\s+([\d,]+)")


def count(name: str, command: list[str], env: dict[str, str], out: str, timeout: float = 1800) -> int:
    """Run ``command`` under cachegrind (its output file ``out``) and return its instruction count.

    ``RuntimeError`` naming ``name`` if the command fails or valgrind prints no total.
    """
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}", *command]
    done = subprocess.run(valgrind, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-2000:]}")
    found = _TOTAL.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))
