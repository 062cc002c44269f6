"""The console's views, one module per area; importing this package adds their routes to
``console.core.bp``."""
from . import audit  # noqa: F401
from . import auth  # noqa: F401
from . import dashboard  # noqa: F401
from . import dingtalk_sync  # noqa: F401
from . import deliveries  # noqa: F401
from . import mappings  # noqa: F401
from . import reports  # noqa: F401
from . import roster  # noqa: F401
