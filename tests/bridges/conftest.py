"""Fixtures for the delivery machinery: a worker on the test clock, a served Tongxin."""
from __future__ import annotations

import re

import pytest

from bridges.fakes.serve import serve_in_thread
from bridges.registry import build_worker
from miniapp_api.db import database


@pytest.fixture
def worker(app, settings):
    w = build_worker(settings, worker_id="test-worker")
    w.rand = lambda: 0.5  # no jitter: backoff is exactly first·2^(n−1)
    yield w
    database.close()


@pytest.fixture
def run(worker, clock):
    """Run worker passes on the test clock: ``run()`` once, ``run(passes=5, step=1)``."""

    def _run(passes: int = 1, step: float = 0.0):
        results = []
        for _ in range(passes):
            results.append(worker.run_once(clock.now()))
            clock.advance(step)
        return results

    return _run


@pytest.fixture
def tongxin(app):
    """Tongxin served over real HTTP, so the fake DingTalk can call back into it."""
    server = serve_in_thread(app)
    yield server
    server.shutdown()


NUMBER = re.compile(r"R\d{6}-\d{4,}")


def numbers_in(messages: list[dict]) -> list[str]:
    """Every report number shown in group messages (cards and digests), in order."""
    out = []
    for m in messages:
        if "新上报" in m["title"]:
            out += list(dict.fromkeys(NUMBER.findall(m["text"])))
    return out
