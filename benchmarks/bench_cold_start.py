"""Cold start of a few ``inferchip`` commands: wall time of a fresh process, best of N runs.

usage: python benchmarks/bench_cold_start.py [--runs N] [--exe PATH/TO/inferchip]

Prints one line per command (wall seconds, best and median; CPU seconds, best: the figure a
loaded machine disturbs least), then the modules that take longest
to import for ``predict`` (``python -X importtime``). Not a timed test: a loaded machine
makes every figure slower; compare two trees on the same machine, one after the other.

The runs share the user's parse cache (``inferchip.catalog.parse_cache``), filled by one run
of each command before the timed ones; the first ``predict`` with an empty cache (a fresh
install: it parses the shipped YAML and writes the cache) is timed on its own line.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

L8 = "meta-llama/Llama-3.1-8B-Instruct"
COMMANDS = {
    "predict --batch 1": ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", L8, "--batch", "1"],
    "predict --max-throughput": ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", L8, "--max-throughput"],
    "predict without --batch (usage error)": ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", L8],
    "chips": ["chips"],
    "--help": ["--help"],
    "serve --help": ["serve", "--help"],
}


def time_once(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + system) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def import_profile(python: str, top: int = 12) -> list[tuple[int, str]]:
    code = ("import sys; sys.argv = ['inferchip'] + {!r}; "
            "from inferchip.interfaces.cli import main; main()").format(COMMANDS["predict --batch 1"])
    p = subprocess.run([python, "-X", "importtime", "-c", code], capture_output=True, text=True, check=False)
    rows = []
    for line in p.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = [x.strip() for x in line[len("import time:"):].split("|")]
            if parts[1].isdigit():
                rows.append((int(parts[1]), parts[2]))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--exe", default=str(Path(sys.executable).with_name("inferchip")))
    a = ap.parse_args()
    print(f"{a.exe}, best and median of {a.runs} runs")
    with tempfile.TemporaryDirectory() as empty:
        wall, cpu = time_once([a.exe, *COMMANDS["predict --batch 1"]], dict(os.environ, INFERCHIP_CACHE_DIR=empty))
    print(f"  {'predict --batch 1, empty parse cache':<40} wall {wall:.3f} s;  CPU {cpu:.3f} s (one run)")
    for name, args in COMMANDS.items():
        time_once([a.exe, *args])  # fills the parse cache, not timed
        runs = [time_once([a.exe, *args]) for _ in range(a.runs)]
        ts, cpu = [w for w, _ in runs], [c for _, c in runs]
        print(f"  {name:<40} wall best {min(ts):.3f} s, median {statistics.median(ts):.3f} s;"
              f"  CPU best {min(cpu):.3f} s")
    python = str(Path(a.exe).with_name("python"))
    print("slowest imports of predict (cumulative, ms):")
    for us, mod in import_profile(python):
        print(f"  {us / 1e3:8.1f}  {mod}")


if __name__ == "__main__":
    main()
