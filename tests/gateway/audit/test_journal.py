"""The local journal: group commit, durability across SIGKILL, failing closed when unwritable."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.audit.chain import verify
from gateway.audit.journal import Journal
from gateway.audit.reader import JournalReader
from gateway.errors import AuditUnavailable
from tests.gateway.audit.records import ROOT, make_record

ENV = {"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


async def test_concurrent_appends_are_gapless_durable_and_share_commits(
    journal: Journal,
) -> None:
    n = 500
    seqs = await asyncio.gather(*(journal.append(make_record(i)) for i in range(n)))
    assert sorted(seqs) == list(range(1, n + 1))
    assert journal.commits < n // 2, "appends were not grouped into shared commits"
    # durable: a separate connection sees every row, and the chain is intact
    with JournalReader(journal.path) as reader:
        rows = list(reader.iter_rows())
    assert [r.seq for r in rows] == list(range(1, n + 1))
    assert verify(rows) == []


async def test_reopen_continues_the_chain_and_keeps_the_cursor(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    async with Journal(path) as j:
        await j.append(make_record(1))
        await j.append(make_record(2))
        await j.set_shipped_cursor(2)
        first_id = j.journal_id
    async with Journal(path) as j:
        assert j.journal_id == first_id
        assert j.last_seq == 2
        assert await j.shipped_cursor() == 2
        assert await j.append(make_record(3)) == 3
        tail = await j.tail(2)
        after = await j.read_after(1, 10)
    assert [r.seq for r in tail] == [2, 3]
    assert [r.seq for r in after] == [2, 3]
    assert verify(await _all(path)) == []


async def _all(path: Path) -> list:  # type: ignore[type-arg]
    with JournalReader(path) as reader:
        return list(reader.iter_rows())


async def test_record_text_is_stored_exactly(journal: Journal) -> None:
    record = make_record(7, arguments={"q": "Andromède \x00 \ud800"})
    row = await journal.append_row(record)
    stored = (await journal.tail(1))[0]
    assert stored == row
    assert stored.event_id == record.event_id
    assert "Andromède" in stored.record


async def test_duplicate_event_id_fails_alone(journal: Journal) -> None:
    record = make_record(1)
    others = [make_record(i) for i in range(2, 6)]
    results = await asyncio.gather(
        journal.append(record),
        journal.append(record),
        *(journal.append(r) for r in others),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, AuditUnavailable)]
    assert len(failures) == 1
    assert sorted(r for r in results if isinstance(r, int)) == [1, 2, 3, 4, 5]
    assert journal.healthy


async def test_locked_journal_fails_promptly_then_recovers(journal: Journal) -> None:
    await journal.append(make_record(0))
    other = sqlite3.connect(journal.path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(AuditUnavailable):
            await journal.append(make_record(1))
        assert not journal.healthy
        assert not await journal.check()
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert await journal.append(make_record(2)) == 2
    assert journal.healthy
    assert await journal.check()


async def test_stuck_writer_fails_within_append_timeout(tmp_path: Path) -> None:
    """A writer that cannot finish (here: waiting 120 s on a lock) never makes a caller hang:
    the caller is answered after ``append_timeout``, long before the lock wait ends."""
    async with Journal(tmp_path / "j.db", busy_timeout=120.0, append_timeout=0.3) as j:
        other = sqlite3.connect(j.path, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            started = time.monotonic()
            with pytest.raises(AuditUnavailable):
                await j.append(make_record(1))
            assert time.monotonic() - started < 60  # far below the 120 s lock wait
            assert not j.healthy
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert await j.append(make_record(2)) == 2  # the timed-out record was written late
        assert j.healthy


async def test_cancelled_caller_does_not_lose_the_record(journal: Journal) -> None:
    task = asyncio.ensure_future(journal.append(make_record(1)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await journal.append(make_record(2)) == 2
    assert [r.seq for r in await journal.read_after(0, 10)] == [1, 2]


async def test_removed_journal_file_fails_closed(journal: Journal) -> None:
    await journal.append(make_record(0))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{journal.path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(AuditUnavailable):
        await journal.append(make_record(1))
    assert not journal.healthy
    assert not await journal.check()


async def test_closed_journal_refuses(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    with pytest.raises(AuditUnavailable):
        await j.append(make_record(0))
    await j.open()
    await j.close()
    with pytest.raises(AuditUnavailable):
        await j.append(make_record(0))
    assert not j.healthy


async def test_close_drains_queued_appends(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    await j.open()
    pending = [asyncio.ensure_future(j.append(make_record(i))) for i in range(50)]
    await asyncio.sleep(0)  # every append is queued
    await j.close()
    assert sorted(await asyncio.gather(*pending)) == list(range(1, 51))


_FULL_DISK = """
import asyncio, resource, signal, sys, time
from pathlib import Path
from gateway.audit.journal import Journal
from gateway.audit.record import AuditRecord
from gateway.errors import AuditUnavailable

async def main():
    path = Path(sys.argv[1])
    j = Journal(path)
    await j.open()
    await j.append(AuditRecord(kind="call"))
    used = max(p.stat().st_size for p in path.parent.iterdir())
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (used + 32768, resource.RLIM_INFINITY))
    for i in range(10000):
        started = time.monotonic()
        try:
            seq = await j.append(AuditRecord(kind="call", arguments={"pad": "x" * 4000}))
        except AuditUnavailable:
            print("unavailable", time.monotonic() - started, j.healthy, flush=True)
            return
        print("ok", seq, flush=True)
    print("never-full", flush=True)

asyncio.run(main())
"""


def test_full_disk_raises_audit_unavailable(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes the kernel refuse writes past a size: a real EFBIG, like ENOSPC."""
    proc = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(tmp_path / "j.db")],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1].split()
    assert last[0] == "unavailable", proc.stdout[-500:]
    assert float(last[1]) < 2.0
    assert last[2] == "False"
    acknowledged = [int(line.split()[1]) for line in proc.stdout.splitlines() if line[:2] == "ok"]
    with JournalReader(tmp_path / "j.db") as reader:
        stored = {r.seq for r in reader.iter_rows()}
    assert set(acknowledged) <= stored


_OPEN_AND_APPEND = """
import asyncio, sys
from pathlib import Path
from gateway.audit.journal import Journal
from gateway.audit.record import AuditRecord
from gateway.errors import AuditUnavailable

async def main():
    j = Journal(Path(sys.argv[1]))
    try:
        await j.open()
        await j.append(AuditRecord(kind="call"))
    except AuditUnavailable:
        print("unavailable", flush=True)
        return
    print("written", flush=True)

asyncio.run(main())
"""


SETPRIV = shutil.which("setpriv")


@pytest.mark.skipif(SETPRIV is None, reason="needs util-linux setpriv to drop capabilities")
def test_read_only_journal_raises_audit_unavailable(tmp_path: Path) -> None:
    """Without CAP_DAC_OVERRIDE, a 0444 journal in a 0555 folder cannot be written."""
    assert SETPRIV is not None
    drop_caps = [SETPRIV, "--bounding-set=-all", "--inh-caps=-all", "--"]
    folder = tmp_path / "ro"
    folder.mkdir()
    written = subprocess.run(
        [sys.executable, "-c", _OPEN_AND_APPEND, str(folder / "j.db")],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert written.stdout.strip() == "written", written.stderr
    for p in folder.iterdir():
        p.chmod(0o444)
    folder.chmod(0o555)
    try:
        for target in (folder / "j.db", folder / "absent.db"):
            proc = subprocess.run(
                [*drop_caps, sys.executable, "-c", _OPEN_AND_APPEND, str(target)],
                env=ENV,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert proc.stdout.strip() == "unavailable", (target, proc.stdout, proc.stderr)
    finally:
        folder.chmod(0o755)


_APPEND_FOREVER = """
import asyncio, sys
from pathlib import Path
from gateway.audit.journal import Journal
from gateway.audit.record import AuditRecord

async def main():
    j = Journal(Path(sys.argv[1]))
    await j.open()

    async def one(i):
        seq = await j.append(AuditRecord(kind="call", request_id=str(i)))
        print(seq, flush=True)

    i = 0
    while True:
        await asyncio.gather(*(one(i + k) for k in range(16)))
        i += 16

asyncio.run(main())
"""


def test_appended_records_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _APPEND_FOREVER, str(path)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    printed: list[int] = []
    try:
        while len(printed) < 2000:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else b""
            printed.append(int(line))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    printed += [int(x) for x in rest.split(b"\n")[:-1] if x.strip()]  # complete lines only
    with JournalReader(path) as reader:
        rows = list(reader.iter_rows())
    stored = {r.seq for r in rows}
    assert set(printed) <= stored
    assert verify(rows) == []
