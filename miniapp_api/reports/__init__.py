"""Reports (随手拍): the resident-facing use-cases and views."""


def init_app(app) -> None:
    """Declare the report routes on the API blueprint (importing the views does it)."""
    from miniapp_api.web import reports as views  # noqa: F401
