"""SQLite writers of every process queue on one lock before BEGIN IMMEDIATE (db.SqliteWriters)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

from miniapp_api.db import bind
from miniapp_api.db import database
from miniapp_api.db import write_tx

WRITER = textwrap.dedent("""
    import sys
    from miniapp_api.db import bind, database, write_tx
    db = bind(sys.argv[1])
    with database.connection_context():
        with write_tx():
            database.execute_sql("INSERT INTO note (body) VALUES ('from the other process')")
    print("written", flush=True)
""")


def _count(body: str) -> int:
    return database.execute_sql("SELECT COUNT(*) FROM note WHERE body = ?", (body,)).fetchone()[0]


def test_a_writer_in_another_process_waits_for_the_lock_and_then_writes(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    db = bind(url)
    with database.connection_context():
        database.execute_sql("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)")
    try:
        with db.writers:  # this process is writing (the lock only: SQLite itself is free)
            other = subprocess.Popen([sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True)
            time.sleep(1.0)
            assert other.poll() is None, "the other process wrote while this one held the writers' lock"
        assert other.wait(timeout=20) == 0
        assert other.stdout.read().strip() == "written"
        with database.connection_context():
            assert _count("from the other process") == 1
    finally:
        db.close_all()


def test_threads_queue_and_nested_write_transactions_do_not_deadlock(tmp_path):
    db = bind(f"sqlite:///{tmp_path / 't.db'}")
    with database.connection_context():
        database.execute_sql("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)")
    errors = []

    def write(n: int) -> None:
        try:
            with database.connection_context():
                for i in range(20):
                    with write_tx():
                        with write_tx():  # nested: a savepoint, the lock taken once
                            database.execute_sql("INSERT INTO note (body) VALUES (?)", (f"t{n}",))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert errors == []
        with database.connection_context():
            assert database.execute_sql("SELECT COUNT(*) FROM note").fetchone()[0] == 160
    finally:
        db.close_all()
