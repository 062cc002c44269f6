"""The console's fixtures (accounts, a logged-in browser-like client, ``db``), for the tests
that change the catalogue through the console."""
from tests.console.conftest import accounts  # noqa: F401
from tests.console.conftest import console  # noqa: F401
from tests.console.conftest import db  # noqa: F401
from tests.console.conftest import fast_hashes  # noqa: F401
