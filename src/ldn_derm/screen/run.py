"""`screen_export`: the whole run, on local worker processes or a Dask cluster.

Map stages over files on disk (see partition.py): A splits every export file by patient,
B joins Medications to the partitions that reference them, C assesses every partition, setting
aside the patients whose follow-up check needs their Encounters; D scans the Encounter files for
those patients only and assesses them. Each stage is a list of independent tasks, so the same
functions run in a local process pool (default: one worker per core) or on a Dask `distributed`
cluster (`scheduler=`). On a real cluster the scratch location must be shared by all workers (an
NFS path or an object-store URL).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ldn_derm.errors import InputError
from ldn_derm.screen.engine import (
    PartitionStats,
    ProgressFn,
    default_workers,
    finish_partition,
    iter_rows,
)
from ldn_derm.screen.engine import screen_partition as _screen_partition
from ldn_derm.screen.output import WorklistFormat, check_target, write_summary, write_worklist
from ldn_derm.screen.partition import (
    READ_TYPES,
    Problem,
    SplitStats,
    join_medications,
    lab_code_pattern,
    split_file,
)
from ldn_derm.screen.reasons import Options, check_references, reason_book
from ldn_derm.screen.source import filesystem, is_local, list_export, protocol_of

PARTITION_BYTES = 32 * 1024 * 1024  # raw NDJSON per partition: what one stage-C task holds
MAX_PARTITIONS = 4096  # beyond 4096 x 32 MB (128 GB), partitions grow instead
GZIP_RATIO = 6  # assumed expansion of .ndjson.gz when sizing partitions


@dataclass
class ScreenResult:
    """What a run did; `codes` counts worklist rows per code."""

    export: str
    as_of: date
    out: Path | None
    summary: Path | None
    knowledge_version: str
    engine: str
    workers: int
    partitions: int
    patients: int = 0
    rows: int = 0
    lines: int = 0
    bytes: int = 0
    malformed: int = 0
    unlinked: int = 0
    not_used: int = 0  # lines read but of no use to any rule (e.g. vital-sign Observations)
    orphan_resources: int = 0
    orphan_patients: int = 0
    orphan_examples: list[str] = field(default_factory=list)
    unreadable: int = 0
    internal_errors: int = 0
    unresolved_medications: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    candidacy: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)


class _Runner:
    """Runs a list of independent calls and reports progress: in-process, pool or Dask."""

    def __init__(self, workers: int, scheduler: Any, progress: ProgressFn | None) -> None:
        self.progress = progress
        self.client: Any = None
        self.pool: Any = None
        self.own_client = False
        if scheduler is not None:
            from distributed import Client

            if isinstance(scheduler, str):
                try:
                    self.client = Client(scheduler, timeout="20s")  # type: ignore[no-untyped-call]
                except (OSError, TimeoutError, ValueError) as exc:
                    raise InputError(
                        f"cannot reach the Dask scheduler at {scheduler} ({exc})"
                    ) from None
                self.own_client = True
            else:
                self.client = scheduler if hasattr(scheduler, "map") else Client(scheduler)  # type: ignore[no-untyped-call]
                self.own_client = not hasattr(scheduler, "map")
            self.engine = "dask"
            self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        elif workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
            self.engine = "local processes"
            self.workers = workers
        else:
            self.engine = "in process"
            self.workers = 1

    def map(
        self, stage: str, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]
    ) -> list[Any]:
        total = len(calls)
        if self.progress:
            self.progress(stage, 0, total)
        results: list[Any] = [None] * total
        if self.client is not None:
            from distributed import as_completed

            futures = [self.client.submit(fn, *args, pure=False) for args in calls]
            index = {f.key: i for i, f in enumerate(futures)}
            finished = as_completed(futures)  # type: ignore[no-untyped-call]
            for done, future in enumerate(finished, 1):
                results[index[future.key]] = future.result()
                if self.progress:
                    self.progress(stage, done, total)
        elif self.pool is not None:
            from concurrent.futures import as_completed as pool_completed

            pending = {self.pool.submit(fn, *args): i for i, args in enumerate(calls)}
            for done, future in enumerate(pool_completed(pending), 1):
                results[pending[future]] = future.result()
                if self.progress:
                    self.progress(stage, done, total)
        else:
            for i, args in enumerate(calls):
                results[i] = fn(*args)
                if self.progress:
                    self.progress(stage, i + 1, total)
        return results

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
        if self.client is not None and self.own_client:
            self.client.close()


def screen_export(
    export: str | os.PathLike[str],
    *,
    as_of: date | None = None,
    out: str | os.PathLike[str] | None = None,
    fmt: WorklistFormat | str = WorklistFormat.csv,
    summary: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    scratch: str | None = None,
    partitions: int | None = None,
    follow_up_months: int | None = None,
    progress: ProgressFn | None = None,
) -> ScreenResult:
    """Screen every patient of a FHIR Bulk Data export with the core rules.

    `export`: a folder or fsspec URL of ``<Type>.*.ndjson[.gz]`` files. `out`: the worklist
    (`fmt` csv, parquet or json; None = do not write one). `summary`: the HTML summary (None =
    none). `workers`: local worker processes (default: one per core). `scheduler`: a Dask
    scheduler address (``tcp://host:8786``) or a `distributed.Client`/cluster to run on instead.
    `scratch`: where partition files go (default: a private temporary folder; on a cluster, a
    location every worker can reach). Raises `InputError` for an unusable export or option;
    malformed lines and unreadable records are counted and reported, never raised.
    """
    from ldn_derm.knowledge import get_knowledge

    started = time.perf_counter()
    day = as_of or date.today()
    out = Path(out) if out is not None else None
    summary = Path(summary) if summary is not None else None
    try:
        fmt = WorklistFormat(fmt)
    except ValueError:
        raise InputError(f"unknown worklist format '{fmt}' (csv, parquet or json)") from None
    if workers is not None and workers < 1:
        raise InputError("--workers must be at least 1")
    if out is not None:
        check_target(out, "--out")
    if summary is not None:
        check_target(summary, "--summary")
        if out is not None and summary.resolve() == out.resolve():
            raise InputError(f"--summary and --out both name {out}: the summary would replace "
                             "the worklist")  # fmt: skip
    if follow_up_months is not None and not 1 <= follow_up_months <= 120:
        raise InputError("--follow-up-months must be between 1 and 120")
    kb = get_knowledge()  # loaded before the workers fork: they inherit it
    check_references(reason_book(), kb)
    from ldn_derm.patient.dates import check_as_of

    check_as_of(day)
    files = list_export(os.fspath(export))
    read = [f for f in files if f.resource_type in READ_TYPES]
    size = sum(f.size * (GZIP_RATIO if f.compressed else 1) for f in read)
    workers = workers or default_workers()
    if scratch is not None:
        _check_scratch(scratch, in_process=scheduler is None and workers == 1)
    runner = _Runner(workers, scheduler, progress)
    count = partitions or max(runner.workers * 2, math.ceil(size / PARTITION_BYTES))
    count = max(1, min(count, MAX_PARTITIONS))
    buckets = max(1, count // 4)
    result = ScreenResult(
        export=os.fspath(export),
        as_of=day,
        out=out,
        summary=summary,
        knowledge_version=kb.meta.version,
        engine=runner.engine,
        workers=runner.workers,
        partitions=count,
        skipped_files=[f.name for f in files if f.resource_type not in READ_TYPES],
    )
    own_scratch = scratch is None
    root = tempfile.mkdtemp(prefix="ldn-screen-") if scratch is None else scratch
    if not own_scratch:
        root = f"{root.rstrip('/')}/ldn-screen-{os.getpid()}-{int(time.time())}"
        if "://" not in root:  # a local folder: owner-only, like the default one
            try:
                os.mkdir(root, mode=0o700)
            except OSError as exc:
                runner.close()
                raise InputError(f"--scratch {scratch}: cannot be used ({exc})") from None
    try:
        tick = time.perf_counter()
        labs = lab_code_pattern(c.code for lab in kb.terminology.labs for c in lab.loinc)
        # Encounters serve only the follow-up check of patients with a current naltrexone
        # product: stage A leaves plain Encounter lines to a scan after stage C, which routes
        # those of the patients it set aside (not for gzip files: they would be inflated twice)
        encounter_files = [(i, f) for i, f in enumerate(read) if f.resource_type == "Encounter"]
        defer = bool(encounter_files) and not any(f.compressed for _, f in encounter_files)
        calls = [
            (f, i, root, count, buckets, labs, "skip" if defer and (i, f) in encounter_files
             else "route")
            for i, f in enumerate(read)
        ]  # fmt: skip
        split: list[SplitStats] = runner.map("split", split_file, calls)
        totals = SplitStats()
        for item in split:
            totals.merge(item)
        result.stage_seconds["split"] = time.perf_counter() - tick

        tick = time.perf_counter()
        missing = runner.map("medications", join_medications, [(b, root) for b in range(buckets)])
        result.unresolved_medications = sum(missing)
        result.stage_seconds["medications"] = time.perf_counter() - tick

        tick = time.perf_counter()
        names = [f.name for f in files]
        options = Options(follow_up_months=follow_up_months)
        parts: list[PartitionStats] = runner.map(
            "assess",
            _screen_partition,
            [(p, root, day, names, options, defer) for p in range(count)],
        )
        merged = PartitionStats()
        for part in parts:
            merged.merge(part)
        result.stage_seconds["assess"] = time.perf_counter() - tick

        if defer:  # the encounter scan, then the patients set aside
            tick = time.perf_counter()
            wanted = frozenset(merged.deferred)
            scans: list[SplitStats] = runner.map(
                "encounters",
                split_file,
                [(f, i, root, count, buckets, frozenset(), "only", wanted)
                 for i, f in encounter_files],
            )  # fmt: skip
            for scan in scans:  # its lines were counted by stage A
                totals.merge(SplitStats(malformed=scan.malformed, unlinked=scan.unlinked,
                                        problems=scan.problems))  # fmt: skip
            waiting = [p for p, part in enumerate(parts) if part.deferred]
            finished: list[PartitionStats] = runner.map(
                "follow-up", finish_partition, [(p, root, day, names, options) for p in waiting]
            )
            for part in finished:
                merged.merge(part)
            result.stage_seconds["encounters"] = time.perf_counter() - tick

        result.lines, result.bytes, result.unlinked = totals.lines, totals.bytes, totals.unlinked
        result.not_used = totals.not_used
        result.malformed = totals.malformed + merged.malformed
        result.problems = sorted(totals.problems + merged.problems, key=lambda p: (p.file, p.line))[
            :200
        ]
        result.patients, result.rows = merged.patients, merged.rows
        result.codes, result.candidacy = merged.codes, merged.candidacy
        result.orphan_resources = merged.orphan_resources
        result.orphan_patients = merged.orphan_patients
        result.orphan_examples = merged.orphan_examples
        result.unreadable, result.internal_errors = merged.unreadable, merged.internal_errors

        tick = time.perf_counter()
        if out is not None:
            write_worklist(iter_rows(root, count), out, fmt)
        result.stage_seconds["write"] = time.perf_counter() - tick
        result.seconds = time.perf_counter() - started
        if summary is not None:
            write_summary(result, summary)
    finally:
        runner.close()
        if own_scratch:
            shutil.rmtree(root, ignore_errors=True)
        else:
            _remove(root)
    return result


def _check_scratch(scratch: str, *, in_process: bool) -> None:
    """Refuse a --scratch the run cannot use: a URL fsspec cannot open, a local folder that
    does not exist, or memory:// when the work is spread over processes (each process has its
    own memory: the workers would not see each other's partitions)."""
    fs, path = filesystem(scratch)
    problem = None
    if is_local(fs) and not os.path.isdir(path):
        problem = "no such folder"
    elif protocol_of(fs) == "memory" and not in_process:
        problem = (
            "memory:// lives in one process's memory and the workers are separate processes; "
            "use it only with --workers 1, or give a folder or object store every worker reaches"
        )
    if problem is not None:
        raise InputError(f"--scratch {scratch}: {problem}")


def _remove(url: str) -> None:
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    try:
        if fs.exists(path):
            fs.rm(path, recursive=True)
    except OSError:
        pass
