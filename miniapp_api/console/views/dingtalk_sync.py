"""The roster's "sync from DingTalk" button (county administrators): the same
``orgsync.sync_dingtalk`` as ``tongxin sync-dingtalk``, a preview (dry run) first, audited
when applied. The result is kept as an :class:`~miniapp_api.models.dingtalk.OrgSyncRun` and
shown on the roster page (Post/Redirect/Get)."""
from __future__ import annotations

from flask import flash
from flask import redirect
from flask import request
from flask import url_for

from miniapp_api.db import write_tx
from miniapp_api.models import utcnow
from miniapp_api.models.dingtalk import OrgSyncRun
from miniapp_api.org.sync import SyncFailed
from miniapp_api.org.sync import sync_dingtalk
from miniapp_api import audit
from miniapp_api.console.core import admin
from miniapp_api.console.core import Routes
from miniapp_api.console.core import get_settings
from miniapp_api.console.core import who

routes = Routes()


@routes.post("/roster/sync-dingtalk")
def roster_sync_dingtalk():
    """POST: sync the roster with DingTalk (a preview first), audited."""
    admin().require(write=True, county=True)  # the whole county's roster: county_admin only
    dry_run = request.form.get("mode") != "apply"
    actor = who()
    try:
        result = sync_dingtalk(dry_run=dry_run, settings=get_settings(), source="console", actor=actor.username)
        ok, message = True, None
    except SyncFailed as err:
        result, ok, message = err.result, False, str(err)
    if not dry_run:
        counts = {k: getattr(result, k) for k in ("users", "matched", "filled", "left", "reactivated",
                                                  "unmatched_users", "unmatched_officials")} if result else {}
        with write_tx():
            audit.record(actor, "roster.sync_dingtalk", target="roster:dingtalk",
                         after=dict(counts, applied=bool(result and result.applied),
                                    conflicts=len(result.conflicts) if result else None,
                                    error=None if ok else (message or "")[:200]), now=utcnow())
    run = OrgSyncRun.select().order_by(OrgSyncRun.id.desc()).first()
    if not ok:
        flash(f"钉钉同步失败，没有做任何修改：{message}", "error")
    elif dry_run:
        flash("预览完成（试运行，未写入）。确认无误后点“确认同步”。", "ok")
    else:
        flash(f"钉钉同步完成：新填钉钉 ID {result.filled} 人，标记离开组织 {result.left} 人，恢复 {result.reactivated} 人", "ok")
    return redirect(url_for("console.roster", sync=run.id if run else None) + "#dingtalk-sync")


@routes.template_global("dingtalk_sync_view")
def dingtalk_sync_view(args) -> dict:
    """What the roster page shows of the DingTalk sync: the run asked for (``?sync=``) or the
    latest one, and whether this administrator may start one."""
    run = None
    if (args.get("sync") or "").isdigit():
        run = OrgSyncRun.get_or_none(OrgSyncRun.id == int(args["sync"]))
    latest = (OrgSyncRun.select().where(OrgSyncRun.source != "event").order_by(OrgSyncRun.id.desc()).first())
    return {"run": run, "latest": latest, "can_sync": admin().role == "county_admin"}
