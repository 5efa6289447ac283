"""A fake paperless-ngx (2.20.15 or 3.0.5 flavour) on a loopback port, built from recordings.

Data: the fixture as the admin API lists it (``documents-list-admin``, ``tags-list-admin``, ...)
and the owners/permissions/tokens of ``fixture.json``, copied from the recordings into
``recordings/<version>/``. Behaviour, each from recordings: token auth (401 JSON with
``WWW-Authenticate: Token``), API versions (2.20: 1-9, default 9; 3.0: 9-10, default 10; else
406), ``X-Api-Version``/``X-Version`` headers, per-user visibility (own, unowned, or object
view permission; model permission else 403), the trailing-slash 302 to the login page,
pagination (``Invalid page.`` 404, ``next`` URLs with sorted parameters, ``all`` only for
API 9), ``fields=`` (never removes ``__search_hit__``), ``truncate_content``, the id filters
that silently ignore malformed values, ignored unknown parameters, 400 on bad dates, detail
404s that are identical for hidden and missing documents, the 403/404 existence oracle of
the file endpoints, notes embedded in every document, and the search of
``fake_paperless_search``. ``faults`` injects recorded failures (e.g. the 500 HTML page).
Writes (``PATCH``/``PUT`` of a document, ``bulk_edit``) are in ``fake_paperless_write``,
checked against recordings of a real 2.20.15 (``recordings/writes-2.20.15/``).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .fake_paperless_search import Indexed, SearchError, run_query, text_search
from .fake_paperless_server import Logged, Reply, serve
from .fake_paperless_write import write_request

__all__ = ["FLAVOURS", "TOKENS", "FakePaperless", "Logged", "NameClash", "recording", "serve"]

HERE = Path(__file__).parent / "recordings"
FLAVOURS = ("2.20.15", "3.0.5")
TOKENS = {
    "admin": "ad000000000000000000000000000000000000a1",
    "hermes": "4e4e4e00000000000000000000000000000000b2",
    "alice": "a1ce0000000000000000000000000000000000c3",
}
NO_PERMISSION = {"detail": "You do not have permission to perform this action."}
KINDS = {
    "tags": "view_tag",
    "correspondents": "view_correspondent",
    "document_types": "view_documenttype",
}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DOC_KEY = {"correspondents": "correspondent", "document_types": "document_type"}


class NameClash(ValueError):
    """What paperless answers (400) to a second object with the same (name, owner)."""


def recording(version: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HERE / version / f"{name}.json").read_text("utf-8"))
    return data


class FakePaperless:
    def __init__(self, version: str) -> None:
        self.version = version
        self.major = int(version.split(".")[0])
        fixture = json.loads((HERE / version / "fixture.json").read_text("utf-8"))
        self.users = {u["token"]: u for u in fixture["users"]}
        self.perms = {
            (k, o["id"]): o
            for k in ("tags", "correspondents", "document_types", "documents")
            for o in fixture[k]
        }
        self.objects: dict[str, list[dict[str, Any]]] = {
            "documents": _results(version, "documents-list-admin"),
            "tags": _results(version, "tags-list-admin"),
            "correspondents": _results(version, "correspondents-list-admin"),
            "document_types": _results(version, "document-types-list-admin"),
        }
        self.custom_fields = {f["id"]: f["name"] for f in fixture["custom_fields"]}
        self.log: list[Logged] = []
        self.faults: list[Reply] = []
        self._lock = threading.Lock()
        self._next_id = {
            k: max((o["id"] for o in v), default=0) + 1 for k, v in self.objects.items()
        }

    @classmethod
    def empty(cls, version: str) -> FakePaperless:
        """The same users and tokens, no documents, tags, correspondents or types."""
        fake = cls(version)
        for kind in fake.objects:
            fake.objects[kind] = []
            fake._next_id[kind] = 1
        fake.perms = {}
        return fake

    def user_id(self, name: str) -> int:
        return int(next(u["id"] for u in self.users.values() if u["username"] == name))

    # -- state changes (what an upstream user with add/change/delete permissions can do) ----
    def add_object(
        self, kind: str, name: str, owner: int | None = None, viewers: tuple[int, ...] = ()
    ) -> int:
        """A new tag/correspondent/type; ids are never reused (like the database's).

        Names are unique per (name, owner), case-sensitive (``documents_tag_unique_name_owner``
        and ``documents_tag_name_uniq`` for unowned ones; recording ``tags-list-hermes-same-name-
        twins``): another owner, or another case, may always reuse a name.
        """
        with self._lock:
            taken = any(
                o["name"] == name and self.perms[(kind, o["id"])]["owner"] == owner
                for o in self.objects[kind]
            )
            if taken:
                raise NameClash("Object violates owner / name unique constraint")
            ident = self._next_id[kind]
            self._next_id[kind] += 1
            obj = {
                "id": ident,
                "slug": name.lower(),
                "name": name,
                "match": "",
                "matching_algorithm": 0,
                "is_insensitive": True,
                "owner": owner,
                "user_can_change": True,
            }
            self.objects[kind].append(obj)
            self.perms[(kind, ident)] = _perms(owner, viewers)
            return ident

    def delete_object(self, kind: str, ident: int) -> None:
        """Deleting a tag removes it from every document (recording ``tags-list-hermes-after-
        recreate``: a recreated tag gets a new id and documents carry it only when re-tagged)."""
        with self._lock:
            self.objects[kind] = [o for o in self.objects[kind] if o["id"] != ident]
            del self.perms[(kind, ident)]
            for doc in self.objects["documents"]:
                if kind == "tags":
                    doc["tags"] = [t for t in doc["tags"] if t != ident]
                elif doc[_DOC_KEY[kind]] == ident:
                    doc[_DOC_KEY[kind]] = None

    def add_document(
        self,
        title: str,
        content: str,
        created: str,
        *,
        tags: list[int] | None = None,
        correspondent: int | None = None,
        document_type: int | None = None,
        owner: int | None = None,
        viewers: tuple[int, ...] = (),
        notes: list[str] | None = None,
        custom_fields: list[tuple[str, str]] | None = None,
    ) -> int:
        with self._lock:
            ident = self._next_id["documents"]
            self._next_id["documents"] += 1
            fields = []
            for name, value in custom_fields or []:
                field_id = next((i for i, n in self.custom_fields.items() if n == name), None)
                if field_id is None:
                    field_id = max(self.custom_fields, default=0) + 1
                    self.custom_fields[field_id] = name
                fields.append({"value": value, "field": field_id})
            doc = {
                "id": ident,
                "correspondent": correspondent,
                "document_type": document_type,
                "storage_path": None,
                "title": title,
                "content": content,
                "tags": list(tags or []),
                "created": created,
                "created_date": created,
                "deleted_at": None,
                "archive_serial_number": None,
                "original_file_name": f"doc-{ident}.txt",
                "archived_file_name": None,
                "owner": owner,
                "user_can_change": True,
                "notes": [
                    {"id": n, "note": text, "user": {"id": owner, "username": ""}}
                    for n, text in enumerate(notes or [], 1)
                ],
                "custom_fields": fields,
                "page_count": 1,
                "mime_type": "text/plain",
            }
            self.objects["documents"].append(doc)
            self.perms[("documents", ident)] = _perms(owner, viewers)
            return ident

    def set_tags(self, doc_id: int, tags: list[int]) -> None:
        with self._lock:
            doc = next(d for d in self.objects["documents"] if d["id"] == doc_id)
            doc["tags"] = list(tags)

    # -- visibility -------------------------------------------------------------------
    def visible(self, user: dict[str, Any], kind: str, obj: dict[str, Any]) -> bool:
        if user["is_superuser"]:
            return True
        meta = self.perms[(kind, obj["id"])]
        owner = meta["owner"]
        return (
            owner is None
            or owner == user["id"]
            or user["id"] in meta["permissions"]["view"]["users"]
        )

    def _may(self, user: dict[str, Any], perm: str) -> bool:
        return bool(user["is_superuser"]) or perm in user["user_permissions"]

    # -- entry point ------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes = b"") -> Reply:
        parts = urlsplit(target)
        query = parse_qsl(parts.query, keep_blank_values=True)
        with self._lock:
            self.log.append(Logged(method, parts.path, query, headers, body))
            if self.faults:
                return self.faults.pop(0)
        if not parts.path.endswith("/"):
            location = "/accounts/login/?next=" + parts.path
            return Reply(
                302, content_type="text/html; charset=utf-8", headers={"location": location}
            )
        api = _api_version(headers.get("accept", ""), self.major)
        if api is None:
            return self._json(406, {"detail": 'Invalid version in "Accept" header.'}, None)
        auth = headers.get("authorization", "")
        if not auth:
            return self._unauth("Authentication credentials were not provided.")
        keyword, _, key = auth.partition(" ")
        if keyword != "Token" or not key.strip():
            return self._unauth("Invalid token header. No credentials provided.")
        user = self.users.get(key.strip())
        if user is None:
            return self._unauth("Invalid token.")
        if method in ("PATCH", "PUT", "POST") and parts.path != "/api/search/":
            with self._lock:
                return write_request(self, method, parts.path, user, api, body)
        return self._route(method, parts.path, dict(query), user, api, headers.get("host", ""))

    def _route(
        self, method: str, path: str, q: dict[str, str], user: dict[str, Any], api: int, host: str
    ) -> Reply:
        if method != "GET":
            return self._json(405, {"detail": f'Method "{method}" not allowed.'}, api)
        m = re.fullmatch(
            r"/api/(documents|tags|correspondents|document_types)/(?:([^/]+)/)?(\w+/)?", path
        )
        if path == "/api/search/":
            return self._global_search(q, user, api)
        if m is None:
            return self._json(404, {"detail": "Not found."}, api)
        kind, ident, action = m.groups()
        perm = "view_document" if kind == "documents" else KINDS[kind]
        if not self._may(user, perm):
            return self._json(403, NO_PERMISSION, api)
        if ident is None:
            if kind == "documents":
                return self._documents(q, user, api, host, path)
            items = [o for o in self.objects[kind] if self.visible(user, kind, o)]
            # ordered by lower(name); ties observed newest first (tags-list-hermes-same-name-twins)
            items.sort(key=lambda o: (o["name"].lower(), -o["id"]))
            return self._page(items, q, api, host, path, kind=kind, user=user)
        return self._detail(kind, ident, action, user, api, q)

    # -- documents ----------------------------------------------------------------------
    def _documents(
        self, q: dict[str, str], user: dict[str, Any], api: int, host: str, path: str
    ) -> Reply:
        docs = [d for d in self.objects["documents"] if self.visible(user, "documents", d)]
        docs.sort(key=lambda d: (d["created"], d["id"]), reverse=True)
        tag_tests: tuple[tuple[str, Callable[[dict[str, Any], list[int]], bool]], ...] = (
            ("tags__id__all", lambda d, ids: set(ids) <= set(d["tags"])),
            ("tags__id__in", lambda d, ids: bool(set(ids) & set(d["tags"]))),
            ("tags__id__none", lambda d, ids: not set(ids) & set(d["tags"])),
        )
        for key, test in tag_tests:
            ids = _int_list(q.get(key))
            if ids is not None:  # malformed lists are silently ignored (recorded)
                docs = [d for d in docs if test(d, ids)]
        for key, attr in (
            ("id__in", "id"),
            ("correspondent__id__in", "correspondent"),
            ("document_type__id__in", "document_type"),
            ("correspondent__id", "correspondent"),
            ("document_type__id", "document_type"),
        ):
            if key in q:
                ids = _int_list(q[key])
                if ids is None:
                    return self._json(400, {key: ["Enter a number."]}, api)
                docs = [d for d in docs if d[attr] in ids]
        for key, op in (
            ("gt", str.__gt__),
            ("gte", str.__ge__),
            ("lt", str.__lt__),
            ("lte", str.__le__),
        ):
            for name in (f"created__date__{key}", f"created__{key}"):
                if name in q:
                    if not DATE.match(q[name][:10]):
                        return self._json(400, {name: ["Enter a valid date."]}, api)
                    docs = [d for d in docs if op(d["created"], q[name][:10])]
        order = q.get("ordering", "")
        if order.lstrip("-") in ("created", "title", "id", "added"):
            docs.sort(key=lambda d: (d[order.lstrip("-")], d["id"]), reverse=order.startswith("-"))
        searches = [k for k in ("text", "title_search", "query", "more_like_id") if k in q]
        if self.major >= 3 and len(searches) > 1:
            detail = "Specify only one of text, title_search, query, or more_like_id."
            return self._json(400, {"detail": detail}, api)
        if "query" in q or (self.major >= 3 and "text" in q):
            indexed = [self._indexed(d) for d in docs]
            try:
                hits = (
                    run_query(q["query"], indexed, self.major)
                    if "query" in q
                    else text_search(q["text"], indexed)
                )
            except SearchError as exc:
                return self._reply(exc.status, exc.body, api, exc.content_type)
            by_id = {d["id"]: d for d in docs}
            best = hits[0]["raw"] if hits else 1.0
            results = []
            for n, h in enumerate(hits):
                score = h["raw"] / best if self.major < 3 else round(h["raw"] * 1.37, 6)
                hit = {
                    "score": score,
                    "highlights": h["highlights"],
                    "note_highlights": h["note_highlights"],
                    "rank": n + (self.major >= 3),
                }
                results.append({**by_id[h["id"]], "__search_hit__": hit})
            return self._page(results, q, api, host, path, kind="documents", user=user, search=True)
        return self._page(docs, q, api, host, path, kind="documents", user=user)

    def _indexed(self, d: dict[str, Any]) -> Indexed:
        names = {k: {o["id"]: o["name"] for o in self.objects[k]} for k in KINDS}
        owner = next((u["username"] for u in self.users.values() if u["id"] == d["owner"]), "")
        return Indexed(
            id=d["id"],
            title=d["title"],
            content=d["content"],
            correspondent=names["correspondents"].get(d["correspondent"], ""),
            tags=[names["tags"][t] for t in d["tags"]],
            tag_ids=list(d["tags"]),
            type=names["document_types"].get(d["document_type"], ""),
            notes=[n["note"] for n in d["notes"]],
            owner_id=d["owner"],
            owner_name=owner,
            custom_field_names=[self.custom_fields[f["field"]].lower() for f in d["custom_fields"]],
            custom_fields=[
                f"{self.custom_fields[f['field']]} : {f['value']}" for f in d["custom_fields"]
            ],
        )

    def _detail(
        self,
        kind: str,
        ident: str,
        action: str | None,
        user: dict[str, Any],
        api: int,
        q: dict[str, str],
    ) -> Reply:
        if not ident.isdigit():
            return self._json(404, {"detail": "Not found."}, api)
        obj = next((o for o in self.objects[kind] if o["id"] == int(ident)), None)
        seen = obj is not None and self.visible(user, kind, obj)
        if action is None:
            if not seen:
                label = {
                    "documents": "Document",
                    "tags": "Tag",
                    "correspondents": "Correspondent",
                    "document_types": "DocumentType",
                }[kind]
                return self._json(404, {"detail": f"No {label} matches the given query."}, api)
            assert obj is not None
            return self._json(200, self._shape(obj, q, api, kind, user), api)
        if obj is None:
            return self._json(404, {"detail": "Not found."}, api)
        if action == "notes/":
            if not self._may(user, "view_note"):
                return self._json(403, NO_PERMISSION, api)
            return self._json(200, obj["notes"], api)
        if not seen:  # the existence oracle of the file endpoints
            return self._reply(403, "Insufficient permissions", api, "text/html; charset=utf-8")
        return self._reply(200, obj["content"], api, "text/plain")

    def _global_search(self, q: dict[str, str], user: dict[str, Any], api: int) -> Reply:
        text = q.get("query")
        if text is None:
            return self._reply(400, "Query required", api, "text/html; charset=utf-8")
        if len(text) < 3:
            return self._reply(
                400, "Query must be at least 3 characters", api, "text/html; charset=utf-8"
            )
        docs = [d for d in self.objects["documents"] if self.visible(user, "documents", d)]
        found = [d for d in docs if text.casefold() in (d["title"] + d["content"]).casefold()][:3]
        return self._json(200, {"total": len(found), "documents": found}, api)

    # -- shaping ------------------------------------------------------------------------
    def _shape(
        self, obj: dict[str, Any], q: dict[str, str], api: int, kind: str, user: dict[str, Any]
    ) -> dict[str, Any]:
        out = dict(obj)
        meta = self.perms[(kind, obj["id"])]
        if "user_can_change" in out:
            owner = meta["owner"]
            changers = meta["permissions"]["change"]["users"]
            out["user_can_change"] = (
                bool(user["is_superuser"]) or owner in (None, user["id"]) or user["id"] in changers
            )
        if kind == "documents":
            if q.get("truncate_content", "").lower() in ("true", "1"):
                out["content"] = out["content"][:550]
            if api <= 8:
                out["created"] = out["created"] + "T00:00:00+00:00"
            out["owner"] = meta["owner"]
        else:
            docs = [d for d in self.objects["documents"] if self.visible(user, "documents", d)]
            key = {
                "tags": "tags",
                "correspondents": "correspondent",
                "document_types": "document_type",
            }[kind]
            out["document_count"] = sum(
                1
                for d in docs
                if (obj["id"] in d["tags"] if key == "tags" else d[key] == obj["id"])
            )
        if "fields" in q and kind == "documents":
            keep = set(q["fields"].split(",")) | {"__search_hit__"}
            out = {k: v for k, v in out.items() if k in keep}
        return out

    def _page(
        self,
        items: list[dict[str, Any]],
        q: dict[str, str],
        api: int,
        host: str,
        path: str,
        *,
        kind: str,
        user: dict[str, Any],
        search: bool = False,
    ) -> Reply:
        raw_size = q.get("page_size", "")
        size = int(raw_size) if raw_size.isdigit() and int(raw_size) > 0 else 25
        raw_page = q.get("page", "1")
        number = int(raw_page) if raw_page.isdigit() else 0
        pages = max(1, -(-len(items) // size))
        if not 1 <= number <= pages:
            return self._json(404, {"detail": "Invalid page."}, api)
        chunk = items[(number - 1) * size : number * size]
        body: dict[str, Any] = {
            "count": len(items),
            "next": _link(host, path, q, number + 1) if number < pages else None,
            "previous": _link(host, path, q, number - 1) if number > 1 else None,
        }
        if api <= 9:
            body["all"] = [i["id"] for i in items]
        body["results"] = [self._shape(i, q, api, kind, user) for i in chunk]
        if kind == "tags" and self.major >= 3:
            body["display_count"] = len(items)
        if search:
            body["corrected_query"] = None
        return self._json(200, body, api)

    def _headers(self, api: int | None) -> dict[str, str]:
        if api is None:
            return {}
        return {"x-api-version": "9" if self.major < 3 else "10", "x-version": self.version}

    def _json(self, status: int, body: Any, api: int | None) -> Reply:
        return Reply(status, json.dumps(body).encode(), "application/json", self._headers(api))

    def _reply(self, status: int, body: Any, api: int | None, ctype: str) -> Reply:
        if ctype.startswith("application/json"):
            return self._json(status, body, api)
        return Reply(status, str(body).encode(), ctype, self._headers(api))

    def _unauth(self, detail: str) -> Reply:
        reply = self._json(401, {"detail": detail}, None)
        reply.headers["www-authenticate"] = "Token"
        return reply

    def fault_500(self) -> None:
        """Queue the recorded 500 HTML page for the next request."""
        rec = recording(self.version, "autocomplete-hermes-limit-non-int")["response"]
        self.faults.append(Reply(500, rec["body_text"].encode(), "text/html; charset=utf-8"))


def _perms(owner: int | None, viewers: tuple[int, ...]) -> dict[str, Any]:
    return {
        "owner": owner,
        "permissions": {
            "view": {"users": list(viewers), "groups": []},
            "change": {"users": [], "groups": []},
        },
    }


def _results(version: str, name: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = recording(version, name)["response"]["body_json"]["results"]
    return results


def _api_version(accept: str, major: int) -> int | None:
    m = re.search(r"version=(\d+)", accept)
    allowed = range(1, 10) if major < 3 else range(9, 11)
    if m is None:
        return 9 if major < 3 else 10
    value = int(m.group(1))
    return value if value in allowed else None


def _int_list(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(v) for v in value.split(",")]
    except ValueError:
        return None


def _link(host: str, path: str, q: dict[str, str], number: int) -> str:
    params = {k: v for k, v in q.items() if k != "page"}
    if number > 1:
        params["page"] = str(number)
    return f"http://{host}{path}?{urlencode(sorted(params.items()))}"
