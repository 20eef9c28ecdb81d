#!/usr/bin/env python3
"""The clock-and-zone check: the Python unit tests and the UI's vitest suite again under libfaketime.

A test that builds its expectation from a fixed calendar date while the code under test reads the
real clock passes on the day it was written and fails weeks later; code that mixes up the UTC date
and the user's date passes at noon and fails at night. This check runs both suites at three
instants, each in a different process zone, with the clock running on from there:

- ``berlin-dst``: 2027-03-28 01:58:30 in Europe/Berlin, 90 s before the spring switch (02:00 -> 03:00)
- ``la-new-year``: 2026-12-31 23:30 in America/Los_Angeles (UTC is already 2027-01-01 07:30)
- ``kolkata-leap``: 2028-02-29 00:15 in Asia/Kolkata (+05:30; UTC is still 28 February)

The clock is moved with libfaketime (Debian's ``faketime`` package) preloaded into the test
processes: ``FAKETIME`` is an offset in seconds from now, so the clock keeps running (and every
child process shares it); the monotonic clock is left alone, so timeouts and timers behave.
``make test`` runs this before pytest. When libfaketime is missing it is installed with apt-get when
running as root; otherwise the check says so and is skipped (exit 0 with the reason).

CLI::

    python scripts/clock_check.py                 # every instant, both suites
    python scripts/clock_check.py --only python   # or: --only ui; --instant la-new-year

Hypothesis runs a tenth of its examples here (``TODO_CLOCK_CHECK=1``, see ``tests/_clock.py``): the
point is the clock, not the search, and the full search runs in the normal suite.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
LIBS = (
    Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"),
    Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1"),
)


@dataclass(frozen=True)
class Instant:
    name: str
    zone: str
    wall: str  # local wall time in `zone`, ISO 8601 without offset

    def epoch(self) -> float:
        return datetime.fromisoformat(self.wall).replace(tzinfo=ZoneInfo(self.zone)).timestamp()

    def describe(self) -> str:
        local = datetime.fromtimestamp(self.epoch(), ZoneInfo(self.zone))
        utc = datetime.fromtimestamp(self.epoch(), ZoneInfo("UTC"))
        return f"{self.name}: {local.isoformat()} {self.zone} (UTC {utc.isoformat(timespec='minutes')})"


INSTANTS = (
    Instant("berlin-dst", "Europe/Berlin", "2027-03-28T01:58:30"),
    Instant("la-new-year", "America/Los_Angeles", "2026-12-31T23:30:00"),
    Instant("kolkata-leap", "Asia/Kolkata", "2028-02-29T00:15:00"),
)


def find_libfaketime(install: bool) -> Path | None:
    for lib in LIBS:
        if lib.exists():
            return lib
    if not install:
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    print("clock check: installing libfaketime (apt-get install -y faketime)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    ok = subprocess.run(["apt-get", "install", "-y", "-q", "faketime"], env=env, check=False).returncode == 0
    if not ok:  # the package lists may be missing on a fresh machine
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-q", "faketime"], env=env, check=False)
    return next((lib for lib in LIBS if lib.exists()), None)


# libfaketime 0.9.10 (Debian 12) breaks ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`` when the
# monotonic clock is not faked: it shifts the absolute deadline by the fake offset and the kernel
# answers EINVAL (wolfcw/libfaketime#426, fixed after 0.9.10). Python >= 3.11 sleeps that way, so every
# ``time.sleep`` raises ``OSError: [Errno 22]``. Under the check only, a ``sitecustomize`` on the
# faked processes' PYTHONPATH sleeps through ``select`` instead (timeouts relative, untouched by
# libfaketime). Event waits, locks, queues and asyncio already work and are left alone.
SITECUSTOMIZE = """\
import select as _select
import time as _time


def _sleep(secs):
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = _time.monotonic() + secs
    while (left := deadline - _time.monotonic()) > 0:
        _select.select([], [], [], left)


_time.sleep = _sleep
"""


def faked_env(lib: Path, instant: Instant, shim: Path) -> dict[str, str]:
    offset = math.ceil(instant.epoch() - time.time())
    pythonpath = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PYTHONPATH": pythonpath,
        "LD_PRELOAD": str(lib),
        "FAKETIME": f"{offset:+d}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "TZ": instant.zone,
        "TODO_CLOCK_CHECK": "1",
        "NO_COLOR": "1",
    }


def suites(only: str | None) -> list[tuple[str, list[str], Path]]:
    python = REPO / ".venv" / "bin" / "python"
    out: list[tuple[str, list[str], Path]] = []
    if only in (None, "python"):
        cmd = [str(python), "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider", "--no-header", "-x"]
        out.append(("python unit tests", cmd, REPO))
    if only in (None, "ui"):
        if shutil.which("npx") and (REPO / "ui" / "node_modules" / ".bin" / "vitest").exists():
            out.append(("vitest", ["npx", "vitest", "run", "--reporter=dot"], REPO / "ui"))
        else:
            print("clock check: no ui/node_modules (Node.js missing?) - vitest not run under the fake clock")
    return out


def probe(lib: Path, instant: Instant, shim: Path) -> str:
    """What a faked process sees: proves the preload took effect before trusting a green run."""
    code = (
        "import datetime, time; time.sleep(0.01); "
        "print(datetime.datetime.now().astimezone().isoformat(timespec='minutes'))"
    )
    env = faked_env(lib, instant, shim)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=("python", "ui"))
    ap.add_argument("--instant", choices=[i.name for i in INSTANTS], action="append")
    ap.add_argument("--no-install", action="store_true", help="never apt-get install libfaketime")
    args = ap.parse_args()
    lib = find_libfaketime(install=not args.no_install)
    if lib is None:
        print("clock check: SKIPPED - no libfaketime, and it cannot be installed here (apt-get install faketime)")
        return 0
    with tempfile.TemporaryDirectory(prefix="todo-clock-check-") as tmp:
        shim = Path(tmp)
        (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
        return run(lib, shim, args.instant, args.only)


def run(lib: Path, shim: Path, only_instants: list[str] | None, only: str | None) -> int:
    failures: list[str] = []
    started = time.monotonic()
    for instant in INSTANTS:
        if only_instants and instant.name not in only_instants:
            continue
        seen = probe(lib, instant, shim)
        expected = datetime.fromtimestamp(instant.epoch(), ZoneInfo(instant.zone)).isoformat(timespec="minutes")
        if seen[:13] != expected[:13]:  # same local date and hour
            print(f"clock check: libfaketime did not take effect (a faked process saw {seen}, expected {expected})")
            return 1
        print(f"\n== clock check at {instant.describe()}; a faked process sees {seen}", flush=True)
        for name, cmd, cwd in suites(only):
            t0 = time.monotonic()
            rc = subprocess.run(cmd, cwd=cwd, env=faked_env(lib, instant, shim), check=False).returncode
            outcome = "ok" if rc == 0 else f"FAILED (exit {rc})"
            print(f"== {name} at {instant.name}: {outcome} in {time.monotonic() - t0:.1f} s", flush=True)
            if rc != 0:
                failures.append(f"{name} at {instant.describe()}")
    print(f"\nclock check: {len(failures)} failed run(s) in {time.monotonic() - started:.0f} s")
    for f in failures:
        print(f"  FAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
