"""``tongxin demo`` (``make demo``): the whole product on one machine, with no accounts.

It writes a configuration for the embedded default (SQLite file, local fakes), creates the
database with demo data (the county's 13 units and departments from ``config.example.toml``,
two communities of two grids per unit with boundaries, officials on A/B posts at every level of
the ladder: grid, community, township, a department each, the county centre), and runs in one
process:

* the local fake WeChat (``bridges.fakes.wechat``) and fake DingTalk
  (``bridges.fakes.dingtalk``), real HTTP servers on 127.0.0.1;
* the API (``create_app``) with a small resident page at ``/demo/`` standing in for the
  mini-program;
* the bridge worker in a thread.

Everything stops with Ctrl-C. Re-running keeps the data (delete ``var/demo`` to start over).
"""
from __future__ import annotations

import json
import secrets
import signal
import threading
import tomllib
from pathlib import Path

from flask import Blueprint
from flask import jsonify
from flask import send_from_directory
from werkzeug.serving import make_server

from bridges.fakes.dingtalk import add_roster_members
from bridges.fakes.dingtalk import create_fake_dingtalk
from bridges.fakes.dingtalk import groups_from_tongxin_config
from bridges.fakes.dingtalk_app import org_from_roster
from bridges.fakes.serve import serve_in_thread
from bridges.fakes.wechat import FakeWechatState
from bridges.fakes.wechat import create_fake_wechat
from bridges.registry import build_worker
from miniapp_api import create_app
from miniapp_api import migrations
from miniapp_api.config import load_settings
from miniapp_api.console.security import create_admin
from miniapp_api.db import database
from miniapp_api.models import utcnow
from miniapp_api.models.console import AdminUser
from miniapp_api.org.grid_import import GridImportFailed
from miniapp_api.org.grid_import import import_grids
from miniapp_api.org.roster_import import ImportFailed
from miniapp_api.org.roster_import import import_org
from miniapp_api.seed import apply_config

PORTS = {"wechat": 9101, "dingtalk": 9102}
APPID = "wxdemo0000000000"
WECHAT_SECRET = "demo-wechat-app-secret"
DT_APP_KEY = "dingdemoappkey"
DT_APP_SECRET = "demo-dingtalk-app-secret"
TEMPLATE_ID = "demo-report-status"
TEMPLATE_FIELDS = {"character_string1": "character_string", "phrase2": "phrase", "thing3": "thing", "time4": "time"}
# The labels the template shows residents (as chosen in the WeChat console): the fake's page shows them too.
TEMPLATE_LABELS = {"character_string1": "上报编号", "phrase2": "处理状态", "thing3": "处理说明", "time4": "更新时间"}
EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
GIVEN = "建国海燕志强秀英国华丽娟明军桂兰永胜春梅德福玉珍晓东淑芬振宇红霞立新凤琴文博雪梅"


def _example() -> dict:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def _units() -> tuple[list[dict], list[dict], list[dict]]:
    """Townships, departments and categories of the shipped example (the county's own list)."""
    data = _example()
    return data["townships"], data.get("departments", []), data.get("categories", [])


def _toml_str(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_value(v) -> str:
    """A TOML value: strings quoted, booleans in TOML's lower case, numbers as they are."""
    if isinstance(v, str):
        return _toml_str(v)
    return str(v).lower() if isinstance(v, bool) else str(v)


def write_config(workdir: Path, host: str, port: int, ports: dict[str, int]) -> Path:
    """The demo's TOML (kept between runs so the secret key and data stay valid)."""
    path = workdir / "config.toml"
    if path.exists():
        return path
    townships, departments, categories = _units()
    dt = f"http://127.0.0.1:{ports['dingtalk']}"
    lines = [
        "# Written by `tongxin demo`: the embedded default with local fakes. Not for production.",
        "[server]", f"secret_key = {_toml_str(secrets.token_urlsafe(32))}",
        f'public_base_url = "http://{host}:{port}"', "",
        "[database]", f'url = "sqlite:///{(workdir / "tongxin.db").resolve()}"', "",
        "[uploads]", f'dir = "{(workdir / "uploads").resolve()}"', "",
        "[wechat]", f'appid = "{APPID}"', f'secret = "{WECHAT_SECRET}"',
        f'api_base_url = "http://127.0.0.1:{ports["wechat"]}"', 'push_token = "demo-push-token"',
        # Safe mode (the one a county should choose): the fake encrypts its image-check verdicts.
        f'push_aes_key = "{secrets.token_hex(22)[:43]}"',
        'miniprogram_state = "developer"', "",
        "[wechat.templates]", f'report_status = "{TEMPLATE_ID}"', "",
        "[dingtalk]", f'api_base_url = "{dt}"', f'app_key = "{DT_APP_KEY}"', f'app_secret = "{DT_APP_SECRET}"',
        "digest_wait_seconds = 5",
        # Event subscription (docs/dingtalk-app.md): the fake pushes member changes with these.
        'event_token = "demo-event-token"', f'event_aes_key = "{secrets.token_hex(22)[:43]}"', "",
        "[worker]", "poll_seconds = 0.3", "",
    ]

    def robot(kind: str, code: str) -> list[str]:
        return [f"  [{kind}.dingtalk]", f'  webhook = "{dt}/robot/send?access_token=demo-{code}"',
                f'  secret = "SECdemo{secrets.token_hex(16)}"', f'  conversation_id = "cid-{code}"', ""]

    # The county command centre's group (县指挥中心): the top of the ladder, with its own staff.
    county = _example().get("county", {}).get("name", "县指挥中心")
    lines += ["[county]", f"name = {_toml_str(county)}"] + robot("county", "county")
    for kind, units in (("townships", townships), ("departments", departments)):
        for u in units:
            lines += [f"[[{kind}]]", f'code = "{u["code"]}"', f"name = {_toml_str(u['name'])}"]
            if kind == "townships":
                lines.append(f'kind = "{u["kind"]}"')
            lines += robot(kind, u["code"])
    for c in categories:
        lines += ["[[categories]]"] + [f"{k} = {_toml_value(v)}" for k, v in c.items()] + [""]
    workdir.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_roster(workdir: Path) -> Path:
    """An import-org CSV with officials at every level, as the county has them, with DingTalk
    ids the fake knows (each joins its unit's group, so the cards' mentions resolve):

    * per unit, 2 communities × 2 grids; each grid has two 网格员 (``grid_worker``) on its A and
      B posts, each community a 村（社区）网格长 (``community_leader``) on A and another on B;
    * per unit, two ``township_staff`` on A/B posts;
    * per department, one ``department_staff`` on the A post (in the department's group);
    * one ``county_staff`` on the A post (in the county group)."""
    townships, departments, _ = _units()
    rows = ["township,community,grid,official_name,role,duty_post,dingtalk_user_id,mobile"]
    n = 0

    def add(unit: str, community: str, grid: str, role: str, post: str) -> None:
        nonlocal n
        n += 1
        name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n * 2) % len(GIVEN):(n * 2) % len(GIVEN) + 2]
        rows.append(f"{unit},{community},{grid},{name},{role},{post},dt-{unit}-{n},139{n:08d}")

    for t in townships:
        community_word = "社区" if t["kind"] == "street" else "村"
        for ci in (1, 2):
            community = f"{t['name'][:2]}第{ci}{community_word}"
            for post in ("A", "B"):
                add(t["code"], community, "", "community_leader", post)
            for gi in (1, 2):
                for post in ("A", "B"):
                    add(t["code"], community, f"第{gi}网格", "grid_worker", post)
        for post in ("A", "B"):
            add(t["code"], "", "", "township_staff", post)
    for d in departments:
        add(d["code"], "", "", "department_staff", "A")
    add("county", "", "", "county_staff", "A")
    path = workdir / "roster.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


#: Where each unit's demo grids lie: the south-west corner of its block of 2 × 2 grids, one
#: column per community. 永盛街道's first grid holds the README's report location
#: (43.345, 125.305); the other units follow in rows of four, a few kilometres apart.
DEMO_ORIGIN = (43.341, 125.301)
DEMO_CELL = (0.008, 0.010)      # a grid: about 890 m north–south and 810 m east–west
DEMO_SPACING = (0.05, 0.06)     # between units' blocks


def demo_grid_box(unit_index: int, community: int, grid: int) -> list[list[float]]:
    """The ring of a demo grid: unit ``unit_index``'s block, community and grid from 1."""
    south = DEMO_ORIGIN[0] + DEMO_SPACING[0] * (unit_index // 4) + DEMO_CELL[0] * (grid - 1)
    west = DEMO_ORIGIN[1] + DEMO_SPACING[1] * (unit_index % 4) + DEMO_CELL[1] * (community - 1)
    north, east = round(south + DEMO_CELL[0], 6), round(west + DEMO_CELL[1], 6)
    south, west = round(south, 6), round(west, 6)
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def write_grids(workdir: Path) -> Path:
    """An import-grids GeoJSON: boundaries that tile a block around each unit's demo place
    (the grids of :func:`write_roster`)."""
    townships, _, _ = _units()
    features = []
    for i, t in enumerate(townships):
        community_word = "社区" if t["kind"] == "street" else "村"
        for ci in (1, 2):
            for gi in (1, 2):
                features.append({"type": "Feature",
                                 "properties": {"township": t["code"], "community": f"{t['name'][:2]}第{ci}{community_word}",
                                                "grid": f"第{gi}网格"},
                                 "geometry": {"type": "Polygon", "coordinates": [demo_grid_box(i, ci, gi)]}})
    path = workdir / "grids.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1),
                    encoding="utf-8")
    return path


def demo_blueprint(wechat: FakeWechatState) -> Blueprint:
    """``/demo/``: a page standing in for the mini-program (it asks the fake WeChat for a login
    code the way ``wx.login()`` would, then uses the real API)."""
    bp = Blueprint("demo", __name__, static_folder="demo_static", url_prefix="/demo")

    @bp.get("/")
    def page():
        return send_from_directory(bp.static_folder, "resident.html")

    @bp.post("/login-code")
    def login_code():
        code, _ = wechat.issue_login_code("o-demo-resident")
        # The resident also taps 允许 for status notifications (wx.requestSubscribeMessage).
        wechat.grant_consent("o-demo-resident", TEMPLATE_ID, 20)
        return jsonify({"code": code, "template_id": TEMPLATE_ID})

    return bp


def _demo_admin(workdir: Path) -> str:
    """A county administrator ``demo`` for the console; its password is kept in the work dir."""
    secret = workdir / "admin-password.txt"
    if not secret.exists():
        secret.write_text("Tongxin-" + secrets.token_urlsafe(9) + "\n", encoding="utf-8")
    password = secret.read_text(encoding="utf-8").strip()
    if AdminUser.get_or_none(AdminUser.username == "demo") is None:
        create_admin("demo", "演示管理员", "county_admin", password, None, utcnow())
    return password


def run_demo(host: str = "127.0.0.1", port: int = 8000, workdir: str = "var/demo",
             wechat_port: int = PORTS["wechat"], dingtalk_port: int = PORTS["dingtalk"]) -> None:
    """Start everything and block until Ctrl-C (or SIGTERM)."""
    wd = Path(workdir)
    ports = {"wechat": wechat_port, "dingtalk": dingtalk_port}
    cfg_path = write_config(wd, host, port, ports)
    roster = write_roster(wd)
    settings = load_settings(cfg_path, environ={})

    fake_wx_app = create_fake_wechat(APPID, WECHAT_SECRET, templates={TEMPLATE_ID: TEMPLATE_FIELDS},
                                     template_labels={TEMPLATE_ID: TEMPLATE_LABELS})
    # The mini-program console's 消息推送 settings: image-check verdicts are pushed to Tongxin.
    fake_wx_app.extensions["fake_wechat"].configure_push(f"http://{host}:{port}/callbacks/wechat",
                                                         settings.wechat.push_token, settings.wechat.push_aes_key)
    wechat = serve_in_thread(fake_wx_app, port=wechat_port)
    fake_dt_app = create_fake_dingtalk(app_key=DT_APP_KEY, app_secret=DT_APP_SECRET,
                                       callback_url=f"http://{host}:{port}/callbacks/dingtalk")
    state = fake_dt_app.extensions["fake_dingtalk"]
    _, groups = groups_from_tongxin_config(str(cfg_path))
    add_roster_members(groups, str(roster))
    state.add_groups(groups, title_suffix="工作群")
    # The app side: the roster's officials are the organisation's members; member changes made
    # on the fake's page are pushed to Tongxin's event subscription (docs/dingtalk-app.md).
    org_from_roster(state.app, str(roster))
    if settings.dingtalk.event_token:
        state.app.configure(event_token=settings.dingtalk.event_token, event_aes_key=settings.dingtalk.event_aes_key,
                            events_url=f"http://{host}:{port}/callbacks/dingtalk/events")
    dingtalk = serve_in_thread(fake_dt_app, port=dingtalk_port)

    app = create_app(settings)
    app.register_blueprint(demo_blueprint(fake_wx_app.extensions["fake_wechat"]))
    database.connect(reuse_if_open=True)
    migrations.upgrade()
    apply_config(settings)
    try:
        import_org(path=roster)
    except ImportFailed as err:  # a data directory written by an older demo, with other people
        raise SystemExit(f"demo roster rejected: {err.errors[:3]}; delete {wd.resolve()} to start over") from None
    try:
        import_grids(write_grids(wd))
    except GridImportFailed as err:  # pragma: no cover - the generated boundaries are valid
        raise SystemExit(f"demo grids rejected: {err.errors[:3]}") from None
    admin_password = _demo_admin(wd)
    database.close()

    stop = threading.Event()
    worker = build_worker(settings, worker_id="demo-worker")
    worker_thread = threading.Thread(target=worker.run_forever, args=(stop,), name="worker", daemon=True)
    worker_thread.start()

    server = make_server(host, port, app, threaded=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    base = f"http://{host}:{port}"
    print(f"""
同心 Tongxin demo is running (Ctrl-C to stop). Data: {wd.resolve()}

  居民（代替小程序） resident page ....... {base}/demo/
  钉钉群（模拟器）  DingTalk groups ....... {dingtalk.base_url}/
  微信（模拟器）    WeChat fake ........... {wechat.base_url}/
  管理后台          admin console ......... {base}/console/   (demo / {admin_password})
  API 文档          OpenAPI docs .......... {base}/api/v1/docs
  运行状态          metrics / readiness ... {base}/metrics  {base}/readyz

Try it: on the resident page, log in and report a problem in 永盛街道. It appears in the
永盛街道 group on the DingTalk page within seconds; type 受理 <编号> there as an official,
then 办结 <编号> 已处理 — the resident page shows each step.

The tongxin commands act on this demo (its database and fakes) from another terminal with:

  export TONGXIN_CONFIG={cfg_path.resolve()}
  .venv/bin/tongxin deliveries list --state all     # e.g.: what the worker has sent
""", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        worker_thread.join(timeout=5)
        server.server_close()
        dingtalk.shutdown()
        wechat.shutdown()
