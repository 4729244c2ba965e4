"""Benchmark the CLI's start-up and `ldn assess` as whole processes, side by side (issue 16).

In one run, each a fresh process, median of N (after one warm-up that also fills the knowledge
base cache, as any earlier `ldn` run on the machine would have):
  1. python -c pass                          (the floor: a bare interpreter start)
  2. ldn --help                              (target: within 12x of 1)
  3. python: orjson.loads(largest bundle)    (the floor for reading the record)
  4. ldn assess BUNDLE --format json         (target: 4 - 2 within 3x of (3 - 1))
  5. the same with LDN_KB_CACHE=off          (the obvious alternative: validate the YAML each time)

Run: `python benchmarks/bench_cli.py [--repeat N]`. Wall time on a quiet machine is what a
person waits; the script also prints CPU time (user + system), which load disturbs less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SYNTHEA = REPO.parent / "shared" / "fhir" / "synthea"
BIN = Path(sys.executable).parent
LDN = str(BIN / "ldn")


def measure(cmd: list[str], repeat: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(median wall ms, median CPU ms) of `cmd` run `repeat` times after one warm-up."""
    import time

    run_env = {**os.environ, **(env or {})}
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=run_env)
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=run_env)
        walls.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    bundles = sorted(SYNTHEA.glob("*.json"), key=lambda p: p.stat().st_size)
    if not bundles:
        print(f"no Synthea bundles in {SYNTHEA}", file=sys.stderr)
        return 1
    bundle = bundles[-1]
    py = sys.executable
    rows = {
        "python -c pass (floor)": measure([py, "-c", "pass"], args.repeat),
        "ldn --help": measure([LDN, "--help"], args.repeat),
        "orjson.loads(bundle) (floor)": measure(
            [py, "-c", f"import orjson; orjson.loads(open({str(bundle)!r}, 'rb').read())"],
            args.repeat,
        ),
        "ldn assess --format json": measure(
            [LDN, "assess", str(bundle), "--format", "json", "--as-of", "2026-11-26"],
            args.repeat,
        ),
        "ldn assess, no knowledge cache": measure(
            [LDN, "assess", str(bundle), "--format", "json", "--as-of", "2026-11-26"],
            args.repeat,
            env={"LDN_KB_CACHE": "off"},
        ),
    }
    size = bundle.stat().st_size / 1e6
    print(f"bundle: {bundle.name} ({size:.2f} MB); {args.repeat} runs each, median\n")
    print(f"{'command':34s} {'wall ms':>9s} {'CPU ms':>9s}")
    for name, (wall, cpu) in rows.items():
        print(f"{name:34s} {wall:9.0f} {cpu:9.0f}")
    bare, help_, floor, assess = (
        rows["python -c pass (floor)"],
        rows["ldn --help"],
        rows["orjson.loads(bundle) (floor)"],
        rows["ldn assess --format json"],
    )
    print()
    ok = True
    for i, label in ((0, "wall"), (1, "CPU")):
        help_ratio = help_[i] / bare[i]
        parse = max(floor[i] - bare[i], 1e-9)
        work_ratio = (assess[i] - help_[i]) / parse
        print(
            f"{label:4s}: ldn --help = {help_ratio:4.1f}x python -c pass (target <= 12); "
            f"ldn assess beyond start-up = {work_ratio:4.1f}x orjson.loads beyond start-up "
            "(target <= 3)"
        )
        ok = ok and help_ratio <= 12 and work_ratio <= 3
    print("targets met" if ok else "targets NOT met (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
