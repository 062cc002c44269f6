"""The ``tongxin`` command (CONTRACT §1). Every command reads the same configuration:
``--config PATH`` or ``$TONGXIN_CONFIG``, with ``TONGXIN__SECTION__KEY`` overrides."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import datetime
from datetime import timezone

import click

from bridges.registry import build_worker
from miniapp_api import create_app
from miniapp_api import deliveries
from miniapp_api import migrations
from miniapp_api.community import scheduler as community_scheduler
from miniapp_api.config import ConfigError
from miniapp_api.config import Settings
from miniapp_api.config import load_settings
from miniapp_api.console.security import AccountError
from miniapp_api.console.security import create_admin
from miniapp_api.db import bind
from miniapp_api.deadlines import emergency
from miniapp_api.deadlines import scheduler as deadline_scheduler
from miniapp_api.errors import NotFound
from miniapp_api.models import utcnow
from miniapp_api.models.console import AdminUser
from miniapp_api.org import grid_import
from miniapp_api.org import roster_import
from miniapp_api.org import sync
from miniapp_api.reports import photo_checks
from miniapp_api.seed import apply_config
from miniapp_api.time import LOCAL_TZ
from miniapp_api.time import iso
from miniapp_api.wiring import build_collaborators
from miniapp_api.wiring import register_domain_hooks


def _settings(ctx: click.Context) -> Settings:
    try:
        return load_settings(ctx.obj.get("config_path"))
    except ConfigError as err:
        click.echo(str(err), err=True)
        ctx.exit(2)


def _open_db(settings: Settings):
    db = bind(settings.database.url)
    db.connect(reuse_if_open=True)
    return db


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="TOML configuration file (default: $TONGXIN_CONFIG).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """同心 Tongxin: residents report in WeChat, officials handle in DingTalk."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # urllib3 logs full URLs at DEBUG, and WeChat URLs carry secrets and tokens.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    register_domain_hooks()  # the deadline clocks follow every status change the commands make


@main.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Validate the configuration and say precisely what is wrong."""
    settings = _settings(ctx)
    click.echo(f"配置正确 / configuration OK: {len(settings.townships)} townships, "
               f"{len(settings.departments)} departments, {len(settings.categories)} categories")


@main.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Create or upgrade the schema (idempotent) and apply the config's organisation."""
    settings = _settings(ctx)
    db = _open_db(settings)
    try:
        applied = migrations.upgrade()
        changed = apply_config(settings)
    finally:
        db.close()
    if applied:
        click.echo(f"schema upgraded: applied migrations {applied}")
    else:
        click.echo(f"schema is current (version {migrations.LATEST})")
    click.echo(f"organisation from config: {changed} rows changed")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Run the API with the development server (production: gunicorn, see README)."""
    app = create_app(_settings(ctx))
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@main.command("import-org")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check and report, apply nothing.")
@click.pass_context
def import_org_cmd(ctx: click.Context, path: str, dry_run: bool) -> None:
    """Import the roster of communities, grids and officials from a UTF-8 CSV (all or nothing)."""
    db = _open_db(_settings(ctx))
    try:
        result = roster_import.import_org(path=path, dry_run=dry_run)
    except roster_import.ImportFailed as err:
        for e in err.errors:
            click.echo(f"line {e.line}: {e.message}", err=True)
        click.echo(f"导入失败，未做任何修改 / import failed, nothing applied ({len(err.errors)} errors)", err=True)
        sys.exit(1)
    finally:
        db.close()
    click.echo(roster_import.format_result(result))


def _run_import(ctx: click.Context, run, failed: type[Exception], line, summary) -> None:
    """Run an all-or-nothing import: its summary, or each error (``line(error)``) and exit 1."""
    db = _open_db(_settings(ctx))
    try:
        result = run()
    except failed as err:
        for e in err.errors:
            click.echo(line(e), err=True)
        click.echo(f"导入失败，未做任何修改 / import failed, nothing applied ({len(err.errors)} errors)", err=True)
        sys.exit(1)
    finally:
        db.close()
    click.echo(summary(result))


@main.command("import-grids")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check and report, apply nothing.")
@click.pass_context
def import_grids_cmd(ctx: click.Context, path: str, dry_run: bool) -> None:
    """Import grid boundaries from a GeoJSON FeatureCollection (WGS-84; all or nothing)."""
    _run_import(ctx, lambda: grid_import.import_grids(path, dry_run=dry_run), grid_import.GridImportFailed,
                str, grid_import.format_result)


@main.command("worker")
@click.option("--drain", is_flag=True, help="Deliver everything due now, then exit 0.")
@click.pass_context
def worker_cmd(ctx: click.Context, drain: bool) -> None:
    """Deliver outbox events to DingTalk and WeChat until stopped (SIGTERM/SIGINT)."""
    settings = _settings(ctx)
    _open_db(settings)
    worker = build_worker(settings, wechat=build_collaborators(settings).wechat)
    if drain:
        total = worker.drain()
        click.echo(f"drained: {total.fanned_out} events fanned out, {total.sent} sent, {total.retried} to retry, "
                   f"{total.dead} dead, {total.skipped} skipped, {total.coalesced} merged into digests")
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker.run_forever(stop)


@main.group("deliveries")
def deliveries_group() -> None:
    """Inspect the delivery queue: pending and dead deliveries, and re-queue dead ones."""


@deliveries_group.command("list")
@click.option("--state", type=click.Choice(["pending", "sending", "dead", "skipped", "sent", "all"]),
              default="dead", show_default=True)
@click.option("--target", default=None, help="Only this target, e.g. dingtalk:township:yongsheng")
@click.option("--limit", default=50, show_default=True)
@click.pass_context
def deliveries_list(ctx: click.Context, state: str, target: str | None, limit: int) -> None:
    """List deliveries with their attempts and last error."""
    _open_db(_settings(ctx))
    for line in deliveries.summary():
        click.echo(line)
    for d in deliveries.list_deliveries(state, target, limit):
        click.echo(f"#{d.id}\t{d.state}\t{d.target}\tattempts={d.attempts}\terrcode={d.last_errcode or '-'}\t"
                   f"{(d.last_error or '')[:120]}")


@deliveries_group.command("requeue")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-dead", is_flag=True, help="Re-queue every dead delivery.")
@click.option("--target", default=None, help="With --all-dead: only this target.")
@click.pass_context
def deliveries_requeue(ctx: click.Context, ids: tuple[int, ...], all_dead: bool, target: str | None) -> None:
    """Give dead deliveries a fresh set of attempts, due now."""
    if not ids and not all_dead:
        raise click.UsageError("name delivery ids or use --all-dead")
    _open_db(_settings(ctx))
    n = deliveries.requeue(list(ids), all_dead=all_dead, target=target)
    click.echo(f"re-queued {n} deliveries")


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--dir", "workdir", default="var/demo", show_default=True, help="Where the demo keeps its files.")
@click.option("--wechat-port", default=9101, show_default=True, type=int, help="Port of the fake WeChat.")
@click.option("--dingtalk-port", default=9102, show_default=True, type=int, help="Port of the fake DingTalk.")
def demo_cmd(host: str, port: int, workdir: str, wechat_port: int, dingtalk_port: int) -> None:
    """Run the whole product locally: API, worker thread, fake WeChat and DingTalk, demo data."""
    from miniapp_api.demo import run_demo  # not at the top: the demo loads the fakes, which no other command needs

    run_demo(host=host, port=port, workdir=workdir, wechat_port=wechat_port, dingtalk_port=dingtalk_port)


# --- deadlines and escalation (docs/deadlines.md) ---------------------------------------------


def _parse_now(text: str | None):
    """``--now``: ISO 8601; without an offset it is Beijing time (Asia/Shanghai)."""
    if not text:
        return datetime.now(timezone.utc)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {text!r} (e.g. 2026-11-27T18:00:00+08:00)",
                                 param_hint="--now") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(timezone.utc)


@main.command("scheduler")
@click.option("--once", is_flag=True, help="Run one pass and exit (the worker runs passes by itself).")
@click.option("--now", "now_text", default=None, metavar="ISO8601",
              help="With --once: run as if the time were this (default: the real time).")
@click.pass_context
def scheduler_cmd(ctx: click.Context, once: bool, now_text: str | None) -> None:
    """Deadline reminders, A/B handovers, escalations, daily digests, notice and campaign steps."""
    settings = _settings(ctx)
    _open_db(settings)
    if once:
        now = _parse_now(now_text)
        summary = deadline_scheduler.run_pass(settings, now)
        click.echo(f"scheduler pass at {iso(now)}: {summary}")
        click.echo(f"notices and campaigns: {community_scheduler.run_pass(now, settings)}")
        return
    if now_text:
        raise click.UsageError("--now goes with --once")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        now = _parse_now(None)
        deadline_scheduler.run_pass(settings, now)
        community_scheduler.run_pass(now, settings)
        stop.wait(settings.deadlines.scheduler_interval_seconds)


@main.command("emergency")
@click.argument("state", type=click.Choice(["on", "off", "status"]))
@click.option("--township", default=None, metavar="CODE", help="Only this unit (default: the whole county).")
@click.pass_context
def emergency_cmd(ctx: click.Context, state: str, township: str | None) -> None:
    """平战一键转换: emergency mode on or off, county-wide or for one unit."""
    _open_db(_settings(ctx))
    if state == "status":
        result = emergency.state()
    else:
        try:
            result = emergency.switch(state == "on", township, f"命令行 {os.environ.get('USER', '')}".strip()[:60],
                                      _parse_now(None))
        except NotFound as err:
            click.echo(err.message, err=True)
            sys.exit(1)
        if not result.changed:
            click.echo("未改变：已经是该状态 / unchanged: already in that state")
        else:
            click.echo(f"已切换 / switched: announced in {result.announced} groups, "
                       f"{result.raised_urgent} open reports raised to urgent, {result.shortened} deadlines shortened")
    on_units = [code for code, on in result.townships.items() if on]
    click.echo(f"county-wide emergency: {'on' if result.county else 'off'}; "
               f"units in emergency mode: {', '.join(on_units) or 'none'}")


@main.command("create-admin")
@click.argument("username")
@click.option("--name", "display_name", default=None, help="Display name (default: the user name).")
@click.option("--role", type=click.Choice(["county_admin", "unit_admin", "auditor"]), default="county_admin",
              show_default=True)
@click.option("--township", default=None, help="Unit code, required for --role unit_admin.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
@click.pass_context
def create_admin_cmd(ctx: click.Context, username: str, display_name: str | None, role: str, township: str | None,
                     password_stdin: bool) -> None:
    """Create a console administrator (the first account: a county_admin)."""
    db = _open_db(_settings(ctx))
    try:
        if not db.table_exists(AdminUser._meta.table_name):
            raise click.ClickException("数据库还没有控制台的表，请先运行 tongxin init-db / run `tongxin init-db` first")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("密码 / password", hide_input=True, confirmation_prompt=True)
        try:
            user = create_admin(username, display_name or username, role, password, township, utcnow())
        except AccountError as err:
            raise click.ClickException(f"{err.field}: {err.message}") from None
    finally:
        db.close()
    click.echo(f"已创建管理员 / created admin {user.username} ({user.role}{', ' + user.township if user.township else ''})")


@main.command("check-photos")
@click.option("--dry-run", is_flag=True, help="Count the photos never checked; ask for nothing.")
@click.pass_context
def check_photos_cmd(ctx: click.Context, dry_run: bool) -> None:
    """Ask WeChat's image check for every report photo never checked (stored before the checks
    existed); the worker sends the requests and the verdicts arrive as usual (docs/photo-checks.md)."""
    db = _open_db(_settings(ctx))
    try:
        reports, photos = photo_checks.ask_for_unchecked(utcnow(), dry_run=dry_run)
    finally:
        db.close()
    verb = "待检测（未提交）" if dry_run else "已交给 worker 检测"
    click.echo(f"{verb}：{photos} 张照片，涉及 {reports} 条上报 / "
               f"{'would ask for' if dry_run else 'asked for'} {photos} photos of {reports} reports")


@main.command("sync-dingtalk")
@click.option("--dry-run", is_flag=True, help="Read DingTalk, match and report; apply nothing.")
@click.option("--force", is_flag=True,
              help="Apply even when more than [dingtalk] sync_max_left_share of the officials would be marked as left.")
@click.pass_context
def sync_dingtalk_cmd(ctx: click.Context, dry_run: bool, force: bool) -> None:
    """Fill officials' DingTalk user ids from the organisation (match by mobile); mark leavers
    inactive. All or nothing: any conflict, or too many leavers without --force, and nothing is
    applied (docs/dingtalk-app.md)."""
    settings = _settings(ctx)
    db = _open_db(settings)
    try:
        result = sync.sync_dingtalk(dry_run=dry_run, settings=settings, source="cli",
                                    actor=os.environ.get("USER", "")[:40], force=force)
    except sync.SyncFailed as err:
        if err.result is not None:
            click.echo(sync.format_result(err.result), err=True)
        click.echo(f"同步失败，未做任何修改 / sync failed, nothing applied: {err}", err=True)
        sys.exit(1)
    finally:
        db.close()
    click.echo(sync.format_result(result))


if __name__ == "__main__":  # pragma: no cover
    main()
