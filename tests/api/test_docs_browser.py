"""``/api/v1/docs`` in a real browser (Debian's ``/usr/bin/chromium`` driven by Playwright):
the bundled Swagger UI renders every operation of our OpenAPI 3.1 document, with nothing
fetched from outside this server."""
from __future__ import annotations

from urllib.parse import urlsplit

import requests

from bridges.fakes.serve import serve_in_thread
from miniapp_api.web.api import SWAGGER_UI_DIR
from tests.console.test_browser import browser  # noqa: F401  (fixture: Debian's chromium, headless)
from tests.console.test_browser import db_url  # noqa: F401  (fixture: SQLite only)
from tests.console.test_browser import pytestmark  # noqa: F401  (skipped only without /usr/bin/chromium)


def test_the_docs_page_renders_every_operation_from_local_assets(app, browser):
    server = serve_in_thread(app)
    doc = requests.get(f"{server.base_url}/api/v1/openapi.json", timeout=5).json()
    assert doc["openapi"].startswith("3.1")
    operations = sum(len(methods) for methods in doc["paths"].values())
    outside, errors = [], []
    page = browser.new_page()
    try:
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda e: errors.append(str(e)))

        def only_local(route):
            if urlsplit(route.request.url).netloc != urlsplit(server.base_url).netloc:
                outside.append(route.request.url)
                return route.abort()
            return route.continue_()

        page.route("**/*", only_local)
        page.goto(f"{server.base_url}/api/v1/docs")
        page.wait_for_selector(".opblock-summary")
        page.wait_for_function(f"document.querySelectorAll('.opblock').length >= {operations}")
        text = page.inner_text("body")
        assert "Unable to render" not in text
        assert "同心 Tongxin mini-program API" in text
        assert page.locator(".opblock").count() == operations
        assert page.locator(".opblock-summary-path", has_text="/api/v1/reports/{number}").count() >= 1
    finally:
        page.close()
        server.shutdown()
    assert not outside, outside
    assert not errors, errors


def test_the_viewer_is_swagger_ui_5_with_its_licence(client):
    bundle = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    licence = client.get("/api/v1/docs/assets/LICENSE")
    assert licence.status_code == 200 and b"Apache License" in licence.data
    # Swagger UI reads OpenAPI 3.1 from version 5 on; 4.15 (the old bundle) showed "Unable to render".
    version = (SWAGGER_UI_DIR / "VERSION").read_text().strip().lstrip("v")
    assert int(version.split(".")[0]) >= 5, version
