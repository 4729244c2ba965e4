"""What an oversized junk `Authorization: Bearer` token costs a CDS worker before its refusal.

Starts `ldn serve` (JWT verification on, one trusted issuer, one worker) and sends, one at a
time on fresh connections, CDS discovery calls whose token is `size` bytes of base64url junk
in three dot-separated segments (so the parser gets as far as it can), timing each round trip,
and reporting the server worker's CPU time per call (from /proc). Compare a run on the code
before the size caps (PYTHONPATH pointing at an older src/) with one after.

    python benchmarks/bench_junk_token.py [--size 10000000] [--calls 10]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn runs the app in-process)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _call(port: int, token: bytes) -> tuple[int, float]:
    request = (
        b"GET /cds-services HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Authorization: Bearer " + token + b"\r\n\r\n"
    )
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        # refused before the whole header was read: read the answer anyway
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    elapsed = time.perf_counter() - started
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()

    third = args.size // 3
    junk = b".".join(secrets.token_urlsafe(third)[:third].encode() for _ in range(3))
    port = _free_port()
    data = Path(tempfile.mkdtemp(prefix="ldn-junk-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_")}
    env.update(
        LDN_DATA_DIR=str(data),
        LDN_TRUSTED_ISSUERS="https://ehr.example",
        LDN_JWKS_URLS="https://ehr.example/jwks",
    )
    ldn = str(Path(sys.executable).parent / "ldn")
    proc = subprocess.Popen(
        [ldn, "serve", "--port", str(port)],
        cwd=data,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        _call(port, b"warm.up.call")
        cpu_before = _cpu_seconds(proc.pid)
        results = [_call(port, junk) for _ in range(args.calls)]
        cpu = (_cpu_seconds(proc.pid) - cpu_before) / args.calls
    finally:
        proc.terminate()
        proc.wait(10)
    times = [t for _, t in results]
    print(f"token of {len(junk):,} bytes, {args.calls} calls")
    print(f"statuses: {sorted({s for s, _ in results})}")
    median, worst = statistics.median(times) * 1000, max(times) * 1000
    print(f"round trip: median {median:.1f} ms, max {worst:.1f} ms")
    print(f"server CPU per call: {cpu * 1000:.1f} ms")


if __name__ == "__main__":
    main()
