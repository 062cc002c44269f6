"""The console's views, one module per area; each records its routes on its own ``routes``
and :data:`miniapp_api.console.VIEWS` lists them for ``console.core.install``."""
