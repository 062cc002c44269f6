"""Tongxin's API: the Flask app for the mini-program, the console and inbound callbacks.

``create_app(settings=None)`` builds the app (:mod:`miniapp_api.app`). Without arguments it
reads the TOML file named by ``TONGXIN_CONFIG``; that is how gunicorn runs it:
``gunicorn 'miniapp_api:create_app()'``. The layers of the package are drawn in
``docs/architecture.md``.
"""
from __future__ import annotations

__all__ = ["create_app"]


def create_app(settings=None):
    """Build the Flask app from ``settings`` (or the configured TOML file)."""
    # Imported here, not at the top: every ``import miniapp_api.<module>`` runs this file
    # first, and the worker, the CLI and the domain must not load Flask, the web layer and
    # the bridges just to reach a model.
    from miniapp_api.app import create_app as build

    return build(settings)
