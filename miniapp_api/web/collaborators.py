"""The web's one accessor for the app's collaborators (settings, WeChat client, storage).

The composition builds a :class:`miniapp_api.wiring.Collaborators` and :func:`install`\\ s it on
the app; views read it with :func:`current`. Use-cases receive what they need as arguments
instead of reaching for Flask globals.
"""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask import current_app

_KEY = "tongxin"


def install(app: Flask, collaborators: Any) -> None:
    """Make ``collaborators`` (a ``miniapp_api.wiring.Collaborators``) the app's."""
    app.extensions[_KEY] = collaborators


def current() -> Any:
    """The current app's collaborators: ``.settings``, ``.wechat``, ``.storage``."""
    return current_app.extensions[_KEY]
