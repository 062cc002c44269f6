"""``GET /api/v1/locate``: where a report at a point would go, before anything is submitted."""
from __future__ import annotations

from miniapp_api.errors import ValidationFailed
from miniapp_api.models import Resident
from miniapp_api.models import Township
from miniapp_api.org import routing
from miniapp_api.org.schemas import LocateOut
from miniapp_api.org.schemas import LocateQuery
from miniapp_api.web import collaborators
from miniapp_api.web.api import ApiBlueprint

bp = ApiBlueprint("locate")


@bp.operation("/locate", "GET", summary="这个位置的上报会交给哪个乡镇/街道和网格（按上报分派规则，不保存）",
              tag="reports", query=LocateQuery, response=LocateOut, errors={422: "validation_failed"})
def locate(resident: Resident, query: LocateQuery):
    """The township and grid a report at the point would be routed to, and by which rule."""
    township = None
    if query.township:
        township = Township.get_or_none(Township.code == query.township)
        if township is None:
            raise ValidationFailed("township：没有这个乡镇/街道", field="township")
    settings = collaborators.current().settings
    found = routing.route(query.lat, query.lng, township=township, home_grid_id=resident.home_grid_id,
                          max_metres=settings.routing.nearest_grid_max_metres)
    return found.out()
