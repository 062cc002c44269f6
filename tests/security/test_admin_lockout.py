"""Console login lockout (issue #14, security 3): failures lock the account only for the
address they came from; behind nginx the address comes from X-Forwarded-For, and only when
``[server] trusted_proxies`` says a proxy is there; a correct password from an address that is
not locked always works and clears the account's failures."""
from __future__ import annotations

import pytest

from miniapp_api.console import security
from tests.console.conftest import Console
from tests.console.conftest import PASSWORD


@pytest.fixture
def behind_nginx(settings_dict):
    """One reverse proxy in front: ``[server] trusted_proxies = 1``."""
    settings_dict["server"]["trusted_proxies"] = 1


def browser(app, remote_addr: str = "127.0.0.1", forwarded_for: str | None = None) -> Console:
    """A browser at ``remote_addr`` (the connecting address), optionally through a proxy that
    sends ``X-Forwarded-For``."""
    c = Console(app)
    c.client.environ_base["REMOTE_ADDR"] = remote_addr
    if forwarded_for is not None:
        c.client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return c


def test_failures_from_one_address_do_not_lock_out_others(app, accounts, db):
    attacker = browser(app, "203.0.113.66")
    for _ in range(security.LOCK_AFTER + 2):
        resp = attacker.login("county", "wrong-password-1")
    assert resp.status_code == 429
    assert attacker.login("county").status_code == 429  # locked there: the password is not even checked
    # The account's owner, elsewhere, is not locked out.
    assert browser(app, "198.51.100.7").login("county").status_code == 302


def test_a_correct_login_clears_the_accounts_failures(app, accounts, db):
    for addr in ("203.0.113.1", "203.0.113.2"):
        for _ in range(security.LOCK_AFTER - 1):
            assert browser(app, addr).login("county", "wrong-password-1").status_code == 401
    assert browser(app, "198.51.100.7").login("county").status_code == 302
    # Everyone's count of the account starts again.
    for _ in range(security.LOCK_AFTER - 1):
        assert browser(app, "203.0.113.1").login("county", "wrong-password-1").status_code == 401


def test_a_correct_login_ends_its_addresss_run_of_failures(app, accounts, db):
    office = browser(app, "198.51.100.20")
    names = [f"typo{i}" for i in range(security.IP_LOCK_AFTER - 1)]
    for name in names:  # one shared office address, many mistyped names
        assert office.login(name, "wrong-password-1").status_code == 401
    assert office.login("county").status_code == 302
    assert browser(app, "198.51.100.20").login("typo-again", "wrong-password-1").status_code == 401


def test_behind_nginx_one_client_cannot_lock_out_the_others(behind_nginx, app, accounts, db):
    # Every request comes from nginx (127.0.0.1); nginx appends the client's address.
    sprayer = browser(app, "127.0.0.1", "203.0.113.66")
    for i in range(security.IP_LOCK_AFTER + 1):
        resp = sprayer.login(f"guess{i}", "wrong-password-1")
    assert resp.status_code == 429  # the sprayer's own address is locked ...
    assert sprayer.login("county").status_code == 429
    # ... and nobody else's: the right password from another client works.
    assert browser(app, "127.0.0.1", "198.51.100.7").login("county").status_code == 302


def test_forwarded_for_is_trusted_only_from_configured_proxies(behind_nginx, app, accounts, db):
    # A client cannot escape its lock by writing X-Forwarded-For itself: nginx appends the real
    # address after whatever the client sent, and only that last entry is trusted.
    for i in range(security.LOCK_AFTER):
        resp = browser(app, "127.0.0.1", f"10.9.9.{i}, 203.0.113.66").login("county", "wrong-password-1")
    assert resp.status_code == 429
    assert browser(app, "127.0.0.1", "10.1.1.1, 203.0.113.66").login("county").status_code == 429


def test_without_trusted_proxies_forwarded_for_is_ignored(app, accounts, db):
    for i in range(security.LOCK_AFTER):
        resp = browser(app, "203.0.113.66", f"10.9.9.{i}").login("county", "wrong-password-1")
    assert resp.status_code == 429  # every attempt counted against the connecting address
    assert browser(app, "203.0.113.66", "198.51.100.7").login("county", PASSWORD).status_code == 429
