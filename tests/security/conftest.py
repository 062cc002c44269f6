"""Fixtures of the security regression tests: the console's accounts and logged-in clients,
and Tongxin served over real HTTP with a worker on the test clock (shared with the console
and bridge tests)."""
from __future__ import annotations

from tests.bridges.conftest import run  # noqa: F401
from tests.bridges.conftest import tongxin  # noqa: F401
from tests.bridges.conftest import worker  # noqa: F401
from tests.console.conftest import accounts  # noqa: F401
from tests.console.conftest import console  # noqa: F401
from tests.console.conftest import db  # noqa: F401
from tests.console.conftest import fast_hashes  # noqa: F401
