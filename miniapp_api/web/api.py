"""The ``/api/v1`` blueprints, request validation and the OpenAPI document built from the code.

Each web module owns an :class:`ApiBlueprint` (``/api/v1``) and declares its views with
:meth:`ApiBlueprint.operation`, which

* validates the JSON body (``body=``) and query string (``query=``) with pydantic models and
  answers 422 ``validation_failed`` naming the field, in Chinese, before the view runs;
* requires a resident's bearer token unless ``auth=False``, and, on a blueprint made with
  ``admin=True``, an administrator (``admin_auth.current_admin``), before it reads the body;
* refuses a body that is not declared ``Content-Type: application/json`` (415), and validates
  it strictly (``"lat": true`` is no number, ``"5"`` no integer);
* checks path parameters against :data:`PATH_FORMATS` (422), which the document states as
  patterns;
* records the operation (models, answers, errors) on its blueprint, so that
  ``GET /api/v1/openapi.json`` documents every operation of the blueprints registered on the
  app, generated from the same models that validate requests.

Limits that the configuration sets (``[reports] description_max_chars``…) are declared on
the model's field as ``json_schema_extra={SETTING_LIMITS: {"maxLength": "reports.description_max_chars"}}``
and the document states the configured value.

This module's own blueprint, :data:`bp`, serves that document and its Swagger UI page.

``GET /api/v1/docs`` renders the document with Swagger UI 5 (which reads OpenAPI 3.1), served
from the installed ``flask-swagger-ui`` package's copy of ``swagger-ui-dist``, with its
licence at ``/api/v1/docs/assets/LICENSE``: no internet needed.
"""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Callable

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from flask import send_from_directory
import flask_swagger_ui
from pydantic import BaseModel
from pydantic import ValidationError

from miniapp_api.config import Settings
from miniapp_api.errors import BadRequest
from miniapp_api.errors import UnsupportedMediaType
from miniapp_api.errors import ValidationFailed
from miniapp_api.web import collaborators
from miniapp_api.web.admin_auth import current_admin
from miniapp_api.web.sessions import current_resident

PREFIX = "/api/v1"

# The key, in a field's ``json_schema_extra``, of the limits the configuration sets:
# ``{"maxLength": "reports.description_max_chars"}`` (a dotted path into the settings).
SETTING_LIMITS = "x-setting-limits"

# The format of a path parameter, by the collection it follows (``/reports/<number>``) and its
# name: stated as the parameter's pattern, and checked (422) before the view runs. The numbers
# are made by ``reports.service.next_number`` (R261206-0001) and ``community.common.next_code``
# (N0001, V0042); tests/api/test_openapi.py checks that both still match.
PATH_FORMATS: dict[tuple[str, str], str] = {
    ("reports", "number"): r"^R[0-9]{6}-[0-9]{4,8}$",
    ("notices", "number"): r"^N[0-9]{4,8}$",
    ("campaigns", "number"): r"^V[0-9]{4,8}$",
}
_PATH_RES = {key: re.compile(pattern) for key, pattern in PATH_FORMATS.items()}

# Swagger UI 5 (swagger-ui-dist, Apache-2.0), as the flask-swagger-ui package ships it.
SWAGGER_UI_DIR = Path(flask_swagger_ui.__file__).parent / "dist"

# Chinese wording for pydantic's error types; anything unlisted gets the generic sentence.
_MESSAGES = {
    "missing": "缺少必填项",
    "string_too_short": "内容太短或为空",
    "string_too_long": "内容太长",
    "string_type": "应为文字",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为是或否",
    "bool_parsing": "应为是或否",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "too_long": "数量太多",
    "too_short": "数量太少",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "greater_than": "数值太小",
    "less_than": "数值太大",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "string_pattern_mismatch": "格式不正确",
    "extra_forbidden": "不认识的字段",
    "finite_number": "应为有限数字",
}


def validation_error(err: ValidationError, first: dict | None = None) -> ValidationFailed:
    """Turn pydantic's first error (or ``first``, one of its errors) into our 422 with a Chinese
    message and the field path."""
    first = first or err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"] if p != "__root__")
    custom = first.get("ctx", {}).get("error") if first["type"] == "value_error" else None
    text = str(custom) if custom else _MESSAGES.get(first["type"], "格式不正确")
    return ValidationFailed(f"{loc}：{text}" if loc else text, field=loc or None)


@dataclass
class Operation:
    """One API operation as declared: its rule, models, answers and whether it needs a login."""

    rule: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: dict[int, str] = field(default_factory=dict)
    auth: bool = True
    multipart: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    admin: bool = False

    def path_formats(self) -> dict[str, tuple[str, re.Pattern]]:
        """The path parameters of this operation that have a format: name → (pattern, regex)."""
        parts = self.rule.strip("/").split("/")
        found = {}
        for before, part in zip(parts, parts[1:]):
            name = part.strip("<>").split(":")[-1]
            if part.startswith("<") and (before, name) in PATH_FORMATS:
                found[name] = (PATH_FORMATS[(before, name)], _PATH_RES[(before, name)])
        return found


#: JSON bodies nested deeper than this are refused (400). No request of ours comes close, and
#: deeper ones would exhaust the recursion of the checks that walk a body.
MAX_JSON_DEPTH = 32


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a parsed JSON value nests arrays and objects more than ``limit`` levels deep
    (walked without recursion, so any depth the parser accepted is safe to ask about)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _find_nul(value: Any, path: str = "") -> str | None:
    """The path of the first string (or key) holding a NUL character, which no database
    column can store (PostgreSQL refuses it outright)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            if "\x00" in str(k):
                return sub
            found = _find_nul(v, sub)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _find_nul(v, f"{path}.{i}" if path else str(i))
            if found is not None:
                return found
    return None


def _refuse_nul(data: Any) -> None:
    """422 naming the first string that holds a NUL character."""
    where = _find_nul(data)
    if where is not None:
        raise ValidationFailed(f"{where}：不能包含空字符", field=where or None)


def _closed_schema(node: Any) -> bool:
    """Whether a JSON schema admits only values of bounded shape: every object lists its
    properties and refuses others, every array says what it holds, nothing is "any"."""
    if isinstance(node, list):
        return all(_closed_schema(n) for n in node)
    if not isinstance(node, dict):
        return True
    if node == {} or node.get("additionalProperties", False) is not False:
        return False
    if node.get("type") == "object" and "properties" not in node:
        return False
    if node.get("type") == "array" and not node.get("items"):
        return False
    return all(_closed_schema(v) for k, v in node.items() if k not in ("default", "examples", "const", "enum"))


@functools.cache
def _strict_first(model: type[BaseModel]) -> bool:
    """Whether a body for ``model`` may be read by one strict validation of the raw bytes.

    For a model whose every value has a bounded shape, a body that passes strict validation
    is no deeper than the model and reads exactly as the full path below would read it, so
    that path (parse, depth and NUL checks, strict then lax validation) only runs for bodies
    the strict pass refuses, to give the same error as always."""
    return _closed_schema(model.model_json_schema())


def _parse_body(model: type[BaseModel]) -> BaseModel:
    raw = request.get_data(cache=True)
    json_type = request.mimetype == "application/json"
    # The common case, a well-formed body: one validation straight from the bytes. A NUL can
    # only arrive escaped (JSON forbids raw control characters in strings), so a body without
    # "\u0000" holds none; any doubt takes the full path.
    if raw and json_type and b"\\u0000" not in raw and _strict_first(model):
        try:
            return model.model_validate_json(raw, strict=True)
        except ValidationError:
            pass  # the full path gives the answer (and the same error as ever)
    return parse_body_fully(model, raw, json_type)


def parse_body_fully(model: type[BaseModel], raw: bytes, json_type: bool) -> BaseModel:
    """Read a request body (``raw``, declared JSON or not) as ``model`` with every check, or
    raise the contract's error: 415 not JSON, 400 invalid or too deep, 422 with the field."""
    if not raw:
        data: Any = {}
    else:
        if not json_type:
            raise UnsupportedMediaType("请求体应为 JSON，并声明 Content-Type: application/json",
                                       code="unsupported_media_type")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
            raise BadRequest("请求体不是有效的 JSON", code="invalid_json") from None
        if too_deep(data):
            raise BadRequest(f"请求体嵌套太深（最多 {MAX_JSON_DEPTH} 层）", code="invalid_json")
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象")
    _refuse_nul(data)
    _refuse_wrong_json_types(model, raw or b"{}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise validation_error(err) from None


# Errors of strict validation that mean "the JSON value is of the wrong kind": a bool or a string
# for a number, a number or a string for a bool, a number for a string, a fraction for an integer.
_WRONG_JSON_TYPE = {"float_type", "int_type", "int_from_float", "bool_type", "string_type"}


def _refuse_wrong_json_types(model: type[BaseModel], raw: bytes) -> None:
    """422 for a value whose JSON type is not the field's (``"lat": true``, ``"score": "5"``).

    Only these errors of a strict pass count: the lax pass that follows still reads ISO strings
    as dates behind the models' own before-validators, which strict mode would refuse."""
    try:
        model.model_validate_json(raw, strict=True)
    except ValidationError as err:
        wrong = next((e for e in err.errors() if e["type"] in _WRONG_JSON_TYPE), None)
        if wrong is not None:
            raise validation_error(err, wrong) from None


def _parse_query(model: type[BaseModel]) -> BaseModel:
    args = request.args.to_dict()
    _refuse_nul(args)
    try:
        return model.model_validate(args)
    except ValidationError as err:
        raise validation_error(err) from None


class ApiBlueprint(Blueprint):
    """A blueprint under ``/api/v1`` whose views are declared, validated and documented with
    :meth:`operation`."""

    def __init__(self, name: str, *, admin: bool = False) -> None:
        super().__init__(name, __name__, url_prefix=PREFIX)
        self.operations: list[Operation] = []
        self.admin = admin

    def operation(self, rule: str, method: str, *, summary: str, tag: str, body=None, query=None, response=None,
                  status: int = 200, errors: dict[int, str] | None = None, auth: bool = True,
                  multipart: bool = False, headers: dict[str, str] | None = None) -> Callable:
        """Declare an API operation: validation, authentication and its OpenAPI entry."""
        op = Operation(rule, method.upper(), summary, tag, body, query, response, status,
                       dict(errors or {}), auth and not self.admin, multipart, dict(headers or {}), self.admin)
        self.operations.append(op)
        formats = op.path_formats()

        def decorator(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapper(**kwargs):
                if op.admin:
                    current_admin()  # who asks, before what they ask is read: 401/403 before 422
                elif op.auth:
                    kwargs["resident"] = current_resident()
                for name, (_, regex) in formats.items():
                    if not regex.match(str(kwargs.get(name, ""))):
                        raise ValidationFailed(f"{name}：编号格式不正确", field=name)
                if op.body is not None:
                    kwargs["body"] = _parse_body(op.body)
                if op.query is not None:
                    kwargs["query"] = _parse_query(op.query)
                return view(**kwargs)

            self.add_url_rule(rule, endpoint=f"{view.__name__}_{op.method.lower()}", view_func=wrapper,
                              methods=[op.method])
            return wrapper

        return decorator


def operations(app: Flask) -> list[Operation]:
    """Every operation of the API blueprints registered on ``app``, in registration order."""
    return [op for blueprint in app.blueprints.values() if isinstance(blueprint, ApiBlueprint)
            for op in blueprint.operations]


bp = ApiBlueprint("api")


# --- the OpenAPI document -----------------------------------------------------------------

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
            },
        }
    },
}


def _schema_ref(model: type[BaseModel], components: dict) -> dict:
    """Put ``model`` (and the models it uses) in ``components``; return the reference to it."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _setting(settings: Settings, dotted: str) -> Any:
    value: Any = settings
    for name in dotted.split("."):
        value = getattr(value, name)
    return value


def _apply_setting_limits(node: Any, settings: Settings | None) -> None:
    """Replace each field's declared :data:`SETTING_LIMITS` with the configured values."""
    if isinstance(node, dict):
        limits = node.pop(SETTING_LIMITS, None)
        if limits and settings is not None:
            for keyword, dotted in limits.items():
                node[keyword] = _setting(settings, dotted)
        for value in node.values():
            _apply_setting_limits(value, settings)
    elif isinstance(node, list):
        for value in node:
            _apply_setting_limits(value, settings)


def _path_schema(converter: str) -> dict:
    if converter == "int":  # werkzeug's int converter: digits only, no sign
        return {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    return {"type": "string", "maxLength": 32}


def build_openapi(ops: list[Operation], server_url: str = "/", settings: Settings | None = None) -> dict:
    """The OpenAPI 3.1 document of ``ops`` (see :func:`operations`), stating the limits that
    ``settings`` configure."""
    paths: dict[str, dict] = {}
    components: dict[str, dict] = {"Error": _ERROR_SCHEMA}
    for op in ops:
        path = PREFIX + op.rule
        params = []
        formats = op.path_formats()
        for part in op.rule.split("/"):
            if part.startswith("<"):
                converter, _, name = part.strip("<>").rpartition(":")
                path = path.replace(part, "{" + name + "}")
                schema = _path_schema(converter)
                if name in formats:
                    schema["pattern"] = formats[name][0]
                params.append({"name": name, "in": "path", "required": True, "schema": schema})
        if op.query is not None:
            qschema = op.query.model_json_schema()
            for name, prop in qschema.get("properties", {}).items():
                params.append({"name": name, "in": "query",
                               "required": name in qschema.get("required", []), "schema": prop})
        for name, desc in op.headers.items():
            params.append({"name": name, "in": "header", "required": False,
                           "schema": {"type": "string", "maxLength": 128}, "description": desc})
        entry: dict[str, Any] = {"summary": op.summary, "tags": [op.tag], "parameters": params,
                                 "operationId": f"{op.method.lower()}_{op.rule.strip('/').replace('/', '_').replace('<', '').replace('>', '')}"}
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": _schema_ref(op.body, components)}}}
        if op.multipart:
            entry["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}}}}}}
        ok: dict[str, Any] = {"description": "成功"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": _schema_ref(op.response, components)}}
        responses: dict[str, Any] = {str(op.status): ok}
        errs = dict(op.errors)
        if op.auth:
            errs.setdefault(401, "未登录或登录已失效")
            entry["security"] = [{"bearer": []}]
        if op.admin:
            errs.setdefault(401, "admin_unauthorized：需要管理员登录")
            errs.setdefault(403, "forbidden；控制台会话缺少或带错 X-CSRFToken 时为 csrf_missing / csrf_invalid")
            entry["security"] = [{"adminBearer": []}, {"consoleSession": []}]
        if op.body is not None or op.query is not None or formats:
            errs.setdefault(422, "输入有误 (validation_failed)")
        if op.body is not None:
            errs.setdefault(400, "请求体不是 JSON")
            errs.setdefault(415, "请求体须声明 Content-Type: application/json (unsupported_media_type)")
        for code, desc in sorted(errs.items()):
            responses[str(code)] = {"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        entry["responses"] = responses
        paths.setdefault(path, {})[op.method.lower()] = entry
    _apply_setting_limits(components, settings)
    return {
        "openapi": "3.1.0",
        "info": {"title": "同心 Tongxin mini-program API", "version": "1.0.0",
                 "description": "居民小程序接口：登录、随手拍、进度查询、评价。错误统一为 {\"error\": {\"code\", \"message\"}}。"},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {
                           "bearer": {"type": "http", "scheme": "bearer",
                                      "description": "居民登录 (POST /auth/wechat-login) 得到的 token"},
                           "adminBearer": {"type": "http", "scheme": "bearer",
                                           "description": "配置项 [admin] api_token（脚本用，县级管理员权限）"},
                           "consoleSession": {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
                                              "description": "管理后台的会话 cookie，加上页面里的 CSRF token"}}},
    }


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3 document of this API."""
    return jsonify(build_openapi(operations(current_app), settings=collaborators.current().settings))


_DOCS_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>同心 API 文档</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png" sizes="32x32"></head>
<body><div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/init.js"></script></body></html>"""

# No inline script: the page works under a Content-Security-Policy without 'unsafe-inline'.
_DOCS_INIT = ("window.ui = SwaggerUIBundle({url: 'openapi.json', dom_id: '#swagger-ui', deepLinking: true,"
              " presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout'});")


@bp.get("/docs")
def docs_page():
    """A human-readable page of the OpenAPI document; every asset is served locally."""
    return Response(_DOCS_PAGE, mimetype="text/html")


@bp.get("/docs/assets/<path:name>")
def docs_asset(name: str):
    """The Swagger UI assets and their licence, from the installed ``flask-swagger-ui`` (no
    internet needed)."""
    if name == "init.js":
        return Response(_DOCS_INIT, mimetype="application/javascript")
    return send_from_directory(SWAGGER_UI_DIR, name, max_age=86400)
