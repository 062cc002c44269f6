"""Reports (随手拍): states and lifecycle, the resident-facing use-cases, official commands,
moderation and uploads. The views are in :mod:`miniapp_api.web.reports` and :mod:`miniapp_api.web.uploads`."""
