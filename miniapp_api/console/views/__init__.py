"""The console's views, one module per area; importing this package adds their routes to
``console.core.bp``."""
from miniapp_api.console.views import audit  # noqa: F401
from miniapp_api.console.views import auth  # noqa: F401
from miniapp_api.console.views import dashboard  # noqa: F401
from miniapp_api.console.views import dingtalk_sync  # noqa: F401
from miniapp_api.console.views import deliveries  # noqa: F401
from miniapp_api.console.views import mappings  # noqa: F401
from miniapp_api.console.views import reports  # noqa: F401
from miniapp_api.console.views import roster  # noqa: F401
