"""Benchmark the CLI's start-up and `ldn assess` as whole processes, side by side (issue 16).

In one run, each a fresh process, N rounds of all five (after one warm-up that also fills the
knowledge base cache, as any earlier `ldn` run on the machine would have):
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SYNTHEA = REPO.parent / "shared" / "fhir" / "synthea"
BIN = Path(sys.executable).parent
LDN = str(BIN / "ldn")


def run_once(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run of `cmd`."""
    run_env = {**os.environ, **(env or {})}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=run_env)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


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
    json_out = [str(bundle), "--format", "json", "--as-of", "2026-11-26"]
    commands: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "python -c pass (floor)": ([py, "-c", "pass"], None),
        "ldn --help": ([LDN, "--help"], None),
        "orjson.loads(bundle) (floor)": (
            [py, "-c", f"import orjson; orjson.loads(open({str(bundle)!r}, 'rb').read())"],
            None,
        ),
        "ldn assess --format json": ([LDN, "assess", *json_out], None),
        "ldn assess, no knowledge cache": ([LDN, "assess", *json_out], {"LDN_KB_CACHE": "off"}),
    }
    for cmd, env in commands.values():  # warm-up: page cache, knowledge-base cache
        run_once(cmd, env)
    # Round-robin: every round runs each command once, so a machine that speeds up or slows
    # down during the run (this one does, by tens of percent) affects every row alike; the
    # ratios are taken within each round and their median reported.
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, (cmd, env) in commands.items():
            runs[name].append(run_once(cmd, env))
    size = bundle.stat().st_size / 1e6
    print(f"bundle: {bundle.name} ({size:.2f} MB); {args.repeat} rounds, medians\n")
    print(f"{'command':34s} {'wall ms':>9s} {'CPU ms':>9s}")
    for name, samples in runs.items():
        wall = statistics.median(w for w, _ in samples)
        cpu = statistics.median(c for _, c in samples)
        print(f"{name:34s} {wall:9.0f} {cpu:9.0f}")
    bare, help_, floor, assess = (
        runs["python -c pass (floor)"],
        runs["ldn --help"],
        runs["orjson.loads(bundle) (floor)"],
        runs["ldn assess --format json"],
    )
    print()
    ok = True
    for i, label in ((0, "wall"), (1, "CPU")):
        help_ratio = statistics.median(h[i] / b[i] for h, b in zip(help_, bare, strict=True))
        work_ratio = statistics.median(
            (a[i] - h[i]) / max(f[i] - b[i], 1e-9)
            for a, h, f, b in zip(assess, help_, floor, bare, strict=True)
        )
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
