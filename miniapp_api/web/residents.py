"""Public lists (townships, categories) and the resident's own settings (``/me``)."""
from __future__ import annotations


from miniapp_api.web.api import ApiBlueprint
from miniapp_api.db import write_tx
from miniapp_api.models import Category
from miniapp_api.models import Resident
from miniapp_api.models import SubscriptionConsent
from miniapp_api.models import Township
from miniapp_api.models import utcnow
from miniapp_api.reports.schemas import CategoryList
from miniapp_api.reports.schemas import ResidentOut
from miniapp_api.reports.schemas import SubscriptionList
from miniapp_api.reports.schemas import SubscriptionsIn
from miniapp_api.reports.schemas import TownshipList

bp = ApiBlueprint("residents")


@bp.operation("/townships", "GET", summary="乡镇/街道列表", tag="reference", response=TownshipList, auth=False)
def list_townships():
    """The units (townships and streets)."""
    rows = Township.select().order_by(Township.sort_order, Township.id)
    return {"items": [{"code": t.code, "name": t.name, "kind": t.kind} for t in rows]}


@bp.operation("/categories", "GET", summary="问题类别列表", tag="reference", response=CategoryList, auth=False)
def list_categories():
    """The active problem categories, each with its help text (empty when none is configured)."""
    rows = Category.select().where(Category.active == True).order_by(Category.sort_order, Category.id)  # noqa: E712
    return {"items": [{"code": c.code, "name": c.name, "help": c.help or ""} for c in rows]}


@bp.operation("/me", "GET", summary="当前居民", tag="me", response=ResidentOut)
def me(resident: Resident):
    """The resident of this token."""
    return ResidentOut.of(resident)


def _consents(resident: Resident) -> dict:
    rows = (SubscriptionConsent.select().where(SubscriptionConsent.resident == resident)
            .order_by(SubscriptionConsent.template_id))
    return {"items": [{"template_id": r.template_id, "remaining": r.remaining} for r in rows]}


@bp.operation("/me/subscriptions", "POST", summary="记录居民刚在 wx.requestSubscribeMessage 中同意的订阅消息",
              tag="me", body=SubscriptionsIn, response=SubscriptionList)
def add_subscriptions(resident: Resident, body: SubscriptionsIn):
    """Each accepted template id is one more one-time consent; each notification uses one."""
    now = utcnow()
    with write_tx():
        for template_id in body.template_ids:
            (SubscriptionConsent.insert(resident=resident, template_id=template_id, remaining=1, updated_at=now)
             .on_conflict(conflict_target=[SubscriptionConsent.resident, SubscriptionConsent.template_id],
                          update={SubscriptionConsent.remaining: SubscriptionConsent.remaining + 1,
                                  SubscriptionConsent.updated_at: now})
             .execute())
    return _consents(resident)


@bp.operation("/me/subscriptions", "GET", summary="居民剩余的订阅消息次数", tag="me", response=SubscriptionList)
def list_subscriptions(resident: Resident):
    """The resident's remaining subscribe-message consents."""
    return _consents(resident)
