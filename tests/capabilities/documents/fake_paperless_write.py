"""The write endpoints of the fake paperless-ngx, as the recorded OpenAPI schemas describe them.

``PATCH``/``PUT /api/documents/{id}/`` (``PatchedDocumentRequest``: ``title`` at most 128
characters, ``tags`` a list of tag ids, ``correspondent``/``document_type`` an id or null;
other keys of the schema are accepted and ignored here) answers the whole document (200).
``POST /api/documents/bulk_edit/`` (``BulkEditRequest``: ``documents``, ``method``,
``parameters``) answers ``{"result": "OK"}``.

Permissions as paperless checks them: the model permission ``change_document`` (else 403
``You do not have permission to perform this action.``), then the object: a document the
user cannot view is 404 (``No Document matches the given query.``); one it may view but not
change (owned by another user, no change permission) is 403. A superuser may do anything.
An unknown id in ``tags``/``correspondent``/``document_type`` is 400
``Invalid pk "N" - object does not exist.``; a body that is not JSON is 400.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .fake_paperless_server import Reply

if TYPE_CHECKING:
    from .fake_paperless import FakePaperless

__all__ = ["write_request"]

NO_PERMISSION = {"detail": "You do not have permission to perform this action."}
BULK_METHODS = {"add_tag", "remove_tag", "modify_tags", "set_correspondent", "set_document_type"}


def _may_change(fake: FakePaperless, user: dict[str, Any], doc: dict[str, Any]) -> bool:
    if user["is_superuser"]:
        return True
    meta = fake.perms[("documents", doc["id"])]
    return bool(
        meta["owner"] in (None, user["id"]) or user["id"] in meta["permissions"]["change"]["users"]
    )


def write_request(
    fake: FakePaperless, method: str, path: str, user: dict[str, Any], api: int, body: bytes
) -> Reply:
    """Called with the fake's lock held."""
    if path == "/api/documents/bulk_edit/" and method == "POST":
        return _bulk_edit(fake, user, api, body)
    m = re.fullmatch(r"/api/documents/(\d+)/", path)
    if m is None or method == "POST":
        return fake._json(405, {"detail": f'Method "{method}" not allowed.'}, api)
    if not fake._may(user, "change_document"):
        return fake._json(403, NO_PERMISSION, api)
    doc = next((d for d in fake.objects["documents"] if d["id"] == int(m[1])), None)
    if doc is None or not fake.visible(user, "documents", doc):
        return fake._json(404, {"detail": "No Document matches the given query."}, api)
    if not _may_change(fake, user, doc):
        return fake._json(403, NO_PERMISSION, api)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return fake._json(400, {"detail": "JSON parse error - Expecting value"}, api)
    if not isinstance(data, dict):
        return fake._json(400, {"non_field_errors": ["Invalid data."]}, api)
    problems = _validate(fake, data)
    if problems:
        return fake._json(400, problems, api)
    for key in ("title", "tags", "correspondent", "document_type"):
        if key in data:
            doc[key] = list(data[key]) if key == "tags" else data[key]
    return fake._json(200, fake._shape(doc, {}, api, "documents", user), api)


def _validate(fake: FakePaperless, data: dict[str, Any]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    title = data.get("title")
    if "title" in data and (not isinstance(title, str) or len(title) > 128):
        problems["title"] = ["Ensure this field has no more than 128 characters."]
    ids = {
        k: {o["id"] for o in fake.objects[k]} for k in ("tags", "correspondents", "document_types")
    }
    if "tags" in data:
        tags = data["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, int) for t in tags):
            problems["tags"] = ['Expected a list of items but got type "str".']
        else:
            missing = [t for t in tags if t not in ids["tags"]]
            if missing:
                problems["tags"] = [f'Invalid pk "{missing[0]}" - object does not exist.']
    for key, kind in (("correspondent", "correspondents"), ("document_type", "document_types")):
        if key in data and data[key] is not None and data[key] not in ids[kind]:
            problems[key] = [f'Invalid pk "{data[key]}" - object does not exist.']
    return problems


def _bulk_edit(fake: FakePaperless, user: dict[str, Any], api: int, body: bytes) -> Reply:
    if not fake._may(user, "change_document"):
        return fake._json(403, NO_PERMISSION, api)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return fake._json(400, {"detail": "JSON parse error - Expecting value"}, api)
    method, params = data.get("method"), data.get("parameters") or {}
    if method not in BULK_METHODS:
        return fake._json(400, {"method": [f'"{method}" is not a valid choice.']}, api)
    wanted = data.get("documents") or []
    docs = [d for d in fake.objects["documents"] if d["id"] in wanted]
    if len(docs) != len(set(wanted)) or not all(_may_change(fake, user, d) for d in docs):
        return fake._reply(403, "Insufficient permissions", api, "text/html; charset=utf-8")
    for doc in docs:
        if method in ("add_tag", "modify_tags"):
            adds = [params["tag"]] if method == "add_tag" else params.get("add_tags", [])
            doc["tags"] += [t for t in adds if t not in doc["tags"]]
        if method in ("remove_tag", "modify_tags"):
            drops = [params["tag"]] if method == "remove_tag" else params.get("remove_tags", [])
            doc["tags"] = [t for t in doc["tags"] if t not in drops]
        if method == "set_correspondent":
            doc["correspondent"] = params.get("correspondent")
        if method == "set_document_type":
            doc["document_type"] = params.get("document_type")
    return fake._json(200, {"result": "OK"}, api)
