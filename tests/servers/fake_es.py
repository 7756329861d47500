#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A loopback Elasticsearch for vigil's tests (python3 stdlib only).

Models, after the public Elasticsearch 8.x REST documentation:
  - GET / and HEAD /: cluster info ("You Know, for Search").
  - POST|PUT /_bulk and /{index}/_bulk: NDJSON action/metadata lines with index, create (with a
    source line), update ({"doc": ...} source line) and delete (no source line); the body must end
    with a newline (else 400 illegal_argument_exception for the request); a malformed action line
    fails the whole request with 400; a malformed source gives that item 400
    mapper_parsing_exception. Content-Type must be application/x-ndjson or application/json
    (else 406 as ES does). Content-Encoding: gzip request bodies are decoded.
  - The response {"took","errors","items":[{op: {"_index","_id","_version","result","_shards",
    "_seq_no","_primary_term","status"}}]} or, for failed items, {op: {"_index","_id","status",
    "error": {"type","reason",...}}}.
  - Documents stored per index and _id: index overwrites ("updated", 200) or creates ("created",
    201); create on an existing _id is 409 version_conflict_engine_exception; a missing _id is
    generated (20 url-safe characters) as ES does. Index names are validated (lowercase, none of
    \\ / * ? " < > | space , #, not starting with - _ +) → 400 invalid_index_name_exception.
  - Data streams (names given with --data-streams or the config knob): only op_type create is
    allowed (400 illegal_argument_exception otherwise), @timestamp is required (400
    mapper_parsing_exception); the item's _index is the backing index .ds-<name>-<date>-000001.
  - ?pipeline= and the per-action "pipeline" field are recorded; with a knob "pipelines" listing
    the known ones, an unknown one fails the item with 400 illegal_argument_exception.
  - Security: Basic and ApiKey authentication when credentials are configured; a wrong or missing
    one gives 401 security_exception with ES's error body and WWW-Authenticate headers.
  - http.max_content_length: a body (after decompression) over the configured limit gets 413.
  - Refusals as a busy cluster sends them: whole-request 429/502/503/504 (with Retry-After when
    asked), item-level 429 es_rejected_execution_exception and 503 unavailable_shards_exception.

Not modelled: mappings and field types (any JSON object is accepted as a document), refresh,
routing, versioning parameters (if_seq_no, version), filter_path, require_alias, the _source
line's "doc_as_upsert"/scripts in updates, ILM/rollover, shards, TLS (tests use plain HTTP; TLS
is libcurl's), chunked responses, HTTP pipelining.

Control API (never authenticated):
  POST /_fake/config  JSON object, merged into the knobs:
      fail_status: int, fail_count: int   the next fail_count requests to /_bulk get fail_status
      fail_skip: int                      ... after this many more have passed (default 0)
      bogus_items: k                      append k items matching no action to 200 answers
      delay_ms: int                       each /_bulk request waits this long before it is
                                          handled (lets a client pile up requests in flight)
      retry_after: int                    Retry-After seconds sent with those
      non_es_status: int, non_es_count: int  the next non_es_count requests to /_bulk are answered
                                          by something that is not Elasticsearch (a proxy, a
                                          plain-HTTP port redirecting to HTTPS): that status with
                                          an HTML page (and a Location: https://... for 3xx)
      item_429_every: k                   every k-th item of a request (1-based) gets 429
      item_status_ids: {"<_id>": status}  items with that _id fail with status (400: mapper_
                                          parsing_exception, 429, 5xx: unavailable_shards,
                                          401/403: security_exception, as for a role without
                                          privileges on the document's index)
      user, password, api_key             credentials (api_key: the base64 "id:key" form)
      max_body: bytes                     413 above this (0: no limit)
      data_streams: [names], pipelines: [names]
  POST /_fake/reset   forget documents, requests and knobs given since start
  GET  /_fake/docs    {"<index>": {"<_id>": document}}
  GET  /_fake/requests {"count": n, "requests": [{"method","path","query","gzip","auth",
                       "content_length","body_length","actions","status"}]}
Usage: fake_es.py --port-file FILE [--port N] [--keep DOTTED.PATH] [--user U --password P]
                  [--api-key K] [--data-streams a,b]
"""

import argparse
import base64
import gzip
import json
import random
import string
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {}
DEFAULTS = {}


def reset_state():
    STATE.clear()
    STATE.update(
        {
            "docs": {},
            "requests": [],
            "seq_no": 0,
            "knobs": dict(DEFAULTS),
        }
    )


def keep_of(doc, path):
    """With --keep a.b.0.c only that value of a document is stored (None when absent): a
    long test can hold hundreds of thousands of documents without gigabytes of dicts. Whether a
    document exists, and in which order documents arrived, stay exact."""
    if not path:
        return doc
    v = doc
    for k in path.split("."):
        if isinstance(v, list) and k.isdigit() and int(k) < len(v):
            v = v[int(k)]
        elif isinstance(v, dict) and k in v:
            v = v[k]
        else:
            return None
    return v


def new_id():
    alphabet = string.ascii_letters + string.digits + "-_"
    return "".join(random.choice(alphabet) for _ in range(20))


BAD_INDEX_CHARS = set('\\/*?"<>| ,#')


def index_name_error(name):
    if not name:
        return "must not be empty"
    if name != name.lower():
        return "must be lowercase"
    if any(c in BAD_INDEX_CHARS for c in name):
        return 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'
    if name[0] in "-_+":
        return "must not start with '_', '-', or '+'"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    return None


def err(etype, reason, **extra):
    e = {"type": etype, "reason": reason}
    e.update(extra)
    return e


def security_error(path, reason):
    hdr = {"WWW-Authenticate": ['Basic realm="security" charset="UTF-8"', "ApiKey"]}
    e = {"type": "security_exception", "reason": reason, "header": hdr}
    return {"error": {"root_cause": [dict(e)], **e}, "status": 401}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-es/8.13"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-elastic-product", "Elasticsearch")
        for k, v in (headers or {}).items():
            if isinstance(v, list):
                for x in v:
                    self.send_header(k, x)
            else:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        return raw

    def auth_ok(self, knobs):
        user, pw, key = knobs.get("user"), knobs.get("password"), knobs.get("api_key")
        if not user and not key:
            return True
        a = self.headers.get("Authorization") or ""
        if user and a.startswith("Basic "):
            try:
                dec = base64.b64decode(a[6:], validate=True).decode()
            except Exception:
                return False
            return dec == "%s:%s" % (user, pw or "")
        if key and a.startswith("ApiKey "):
            return a[7:] == key
        return False

    # -- control API --------------------------------------------------------------------------
    def control(self, path, method):
        if path == "/_fake/config" and method == "POST":
            cfg = json.loads(self.read_body() or b"{}")
            with LOCK:
                STATE["knobs"].update(cfg)
            return self.send_json(200, {"acknowledged": True})
        if path == "/_fake/reset" and method == "POST":
            self.read_body()
            with LOCK:
                reset_state()
            return self.send_json(200, {"acknowledged": True})
        if path == "/_fake/docs" and method == "GET":
            with LOCK:
                return self.send_json(200, STATE["docs"])
        if path == "/_fake/requests" and method == "GET":
            with LOCK:
                reqs = list(STATE["requests"])
            return self.send_json(200, {"count": len(reqs), "requests": reqs})
        return self.send_json(404, {"error": "no such control endpoint"})

    # -- dispatch -------------------------------------------------------------------------------
    def do_any(self):
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, urllib.parse.parse_qs(url.query)
        if path.startswith("/_fake/"):
            return self.control(path, self.command)
        with LOCK:
            knobs = dict(STATE["knobs"])
        if not self.auth_ok(knobs):
            self.read_body()
            reason = (
                "missing authentication credentials for REST request [%s]" % self.path
                if not self.headers.get("Authorization")
                else "unable to authenticate user for REST request [%s]" % self.path
            )
            body = security_error(self.path, reason)
            return self.send_json(
                401,
                body,
                {"WWW-Authenticate": ['Basic realm="security" charset="UTF-8"', "ApiKey"]},
            )
        if path == "/" and self.command in ("GET", "HEAD"):
            return self.send_json(
                200,
                {
                    "name": "fake-es-0",
                    "cluster_name": "vigil-test",
                    "cluster_uuid": "fAkEeSfAkEeSfAkEeSfAkE",
                    "version": {
                        "number": "8.13.0",
                        "build_flavor": "default",
                        "lucene_version": "9.10.0",
                        "minimum_wire_compatibility_version": "7.17.0",
                        "minimum_index_compatibility_version": "7.0.0",
                    },
                    "tagline": "You Know, for Search",
                },
            )
        parts = [p for p in path.split("/") if p]
        if parts and parts[-1] == "_bulk" and len(parts) <= 2 and self.command in ("POST", "PUT"):
            return self.bulk(parts[0] if len(parts) == 2 else None, query, knobs)
        self.read_body()
        return self.send_json(
            405 if parts and parts[-1] == "_bulk" else 404,
            {
                "error": err("illegal_argument_exception", "no handler for %s %s" % (self.command, path)),
                "status": 400,
            },
        )

    do_GET = do_any
    do_HEAD = do_any
    do_POST = do_any
    do_PUT = do_any
    do_DELETE = do_any

    # -- _bulk ----------------------------------------------------------------------------------
    def bulk(self, path_index, query, knobs):
        raw = self.read_body()
        gz = (self.headers.get("Content-Encoding") or "").lower() == "gzip"
        log = {
            "method": self.command,
            "path": urllib.parse.urlsplit(self.path).path,
            "query": {k: v[-1] for k, v in query.items()},
            "gzip": gz,
            "auth": (self.headers.get("Authorization") or "").split(" ")[0],
            "content_length": len(raw),
            "body_length": None,
            "actions": 0,
            "status": None,
        }

        def finish(status, obj, headers=None):
            log["status"] = status
            with LOCK:
                STATE["requests"].append(log)
            if obj is None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self.send_json(status, obj, headers)

        with LOCK:
            delay = STATE["knobs"].get("delay_ms", 0)
        if delay:
            time.sleep(delay / 1000.0)
        with LOCK:
            k = STATE["knobs"]
            non_es = k.get("non_es_count", 0) > 0
            if non_es:
                k["non_es_count"] -= 1
                non_es_status = int(k.get("non_es_status", 301))
        if non_es:
            log["status"] = non_es_status
            with LOCK:
                STATE["requests"].append(log)
            page = b"<html><body><h1>Moved</h1>Please use HTTPS</body></html>"
            self.send_response(non_es_status)
            if 300 <= non_es_status < 400:
                self.send_header("Location", "https://127.0.0.1:9243" + self.path)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        # Injected whole-request failures come first (a busy coordinating node).
        with LOCK:
            k = STATE["knobs"]
            if k.get("fail_count", 0) > 0 and k.get("fail_skip", 0) > 0:
                k["fail_skip"] -= 1
                fail = None
            elif k.get("fail_count", 0) > 0:
                k["fail_count"] -= 1
                st = int(k.get("fail_status", 503))
                hdr = {"Retry-After": str(k["retry_after"])} if k.get("retry_after") else None
                fail = (st, hdr)
            else:
                fail = None
        if fail:
            st, hdr = fail
            if st == 429:
                body = {
                    "error": err("es_rejected_execution_exception", "rejected execution of coordinating operation"),
                    "status": 429,
                }
            elif st == 503:
                body = {"error": err("cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];"), "status": 503}
            else:
                body = {"error": "Bad Gateway", "status": st}
            return finish(st, body, hdr)

        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype not in ("application/x-ndjson", "application/json"):
            return finish(
                406,
                {"error": "Content-Type header [%s] is not supported" % ctype, "status": 406},
            )
        if gz:
            try:
                raw = gzip.decompress(raw)
            except Exception as e:
                return finish(400, {"error": err("illegal_argument_exception", "bad gzip body: %s" % e), "status": 400})
        log["body_length"] = len(raw)
        max_body = int(knobs.get("max_body") or 0)
        if max_body and len(raw) > max_body:
            return finish(413, None)
        if raw and not raw.endswith(b"\n"):
            return finish(
                400,
                {
                    "error": err("illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]"),
                    "status": 400,
                },
            )
        lines = raw.split(b"\n")[:-1] if raw else []
        default_pipeline = query.get("pipeline", [None])[-1]
        known_pipelines = knobs.get("pipelines")
        data_streams = set(knobs.get("data_streams") or [])
        every = int(knobs.get("item_429_every") or 0)
        id_status = knobs.get("item_status_ids") or {}

        # Parse all action lines first: a malformed one fails the whole request, as in ES.
        ops = []
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.strip():
                continue
            try:
                action = json.loads(line)
                if not isinstance(action, dict) or len(action) != 1:
                    raise ValueError("expected one action")
                (op, meta), = action.items()
                if op not in ("index", "create", "update", "delete") or not isinstance(meta, dict):
                    raise ValueError("Unknown key for a START_OBJECT in [%s]" % op)
            except Exception as e:
                return finish(
                    400,
                    {
                        "error": err(
                            "illegal_argument_exception",
                            "Malformed action/metadata line [%d], %s" % (i, e),
                        ),
                        "status": 400,
                    },
                )
            source = None
            if op != "delete":
                if i >= len(lines):
                    return finish(
                        400,
                        {
                            "error": err("action_request_validation_exception", "Validation Failed: 1: no requests added;"),
                            "status": 400,
                        },
                    )
                source = lines[i]
                i += 1
            ops.append((op, meta, source))
        if not ops:
            return finish(
                400,
                {"error": err("action_request_validation_exception", "Validation Failed: 1: no requests added;"), "status": 400},
            )
        log["actions"] = len(ops)

        t0 = time.monotonic()
        items = []
        errors = False
        with LOCK:
            docs = STATE["docs"]
            for n, (op, meta, source) in enumerate(ops, 1):
                index = meta.get("_index") or path_index
                _id = meta.get("_id")
                res = {"_index": index, "_id": _id}

                def fail(status, e):
                    r = dict(res)
                    r["status"] = status
                    r["error"] = e
                    return r

                item = None
                pipeline = meta.get("pipeline") or default_pipeline
                if index is None:
                    item = fail(400, err("action_request_validation_exception", "Validation Failed: 1: index is missing;"))
                elif index_name_error(index):
                    item = fail(
                        400,
                        err("invalid_index_name_exception", "Invalid index name [%s], %s" % (index, index_name_error(index)), index=index),
                    )
                elif pipeline and known_pipelines is not None and pipeline not in known_pipelines:
                    item = fail(400, err("illegal_argument_exception", "pipeline with id [%s] does not exist" % pipeline))
                elif every and n % every == 0:
                    item = fail(
                        429,
                        err(
                            "es_rejected_execution_exception",
                            "rejected execution of primary operation [shard_detail=[%s][0][P], "
                            "write_queue_capacity=10000]" % index,
                        ),
                    )
                elif _id is not None and str(_id) in id_status:
                    st = int(id_status[str(_id)])
                    if st == 400:
                        e = err("mapper_parsing_exception", "failed to parse field [process] of type [keyword] in document with id '%s'" % _id)
                    elif st == 429:
                        e = err("es_rejected_execution_exception", "rejected execution of primary operation")
                    elif st in (401, 403):
                        e = err(
                            "security_exception",
                            "action [indices:data/write/bulk[s]] is unauthorized for user [vigil] with "
                            "effective roles [vigil_writer] on indices [%s], this action is granted by the "
                            "index privileges [create_doc,create,index,write,all]" % index,
                        )
                    else:
                        e = err("unavailable_shards_exception", "[%s][0] primary shard is not active Timeout: [1m]" % index)
                    item = fail(st, e)
                if item is None:
                    doc = None
                    if source is not None:
                        try:
                            doc = json.loads(source)
                            if not isinstance(doc, dict):
                                raise ValueError("not an object")
                        except Exception as e:
                            item = fail(
                                400,
                                err("mapper_parsing_exception", "failed to parse", caused_by=err("json_parse_exception", str(e))),
                            )
                if item is None:
                    is_ds = index in data_streams
                    if is_ds:
                        res["_index"] = ".ds-%s-%s-000001" % (index, time.strftime("%Y.%m.%d", time.gmtime()))
                    store = docs.setdefault(index, {})
                    if is_ds and op != "create":
                        item = fail(
                            400,
                            err(
                                "illegal_argument_exception",
                                "only write ops with an op_type of create are allowed in data streams",
                            ),
                        )
                    elif is_ds and "@timestamp" not in doc:
                        item = fail(
                            400,
                            err("mapper_parsing_exception", "data stream timestamp field [@timestamp] is missing"),
                        )
                    elif op == "create" and _id is not None and str(_id) in store:
                        item = fail(
                            409,
                            err(
                                "version_conflict_engine_exception",
                                "[%s]: version conflict, document already exists (current version [1])" % _id,
                                index=res["_index"],
                                shard="0",
                            ),
                        )
                    elif op in ("update", "delete") and (_id is None or str(_id) not in store):
                        item = fail(
                            404,
                            err("document_missing_exception", "[%s]: document missing" % _id, index=index),
                        )
                        if op == "delete":
                            item = dict(res, status=404, result="not_found")
                    else:
                        if _id is None:
                            _id = new_id()
                            res["_id"] = _id
                        _id = str(_id)
                        existed = _id in store
                        if op == "delete":
                            del store[_id]
                            result, status = "deleted", 200
                        elif op == "update":
                            store[_id].update(doc.get("doc") or {})
                            result, status = "updated", 200
                        else:
                            store[_id] = keep_of(doc, knobs.get("keep"))
                            result, status = ("updated", 200) if existed else ("created", 201)
                        STATE["seq_no"] += 1
                        item = dict(
                            res,
                            _version=1,
                            result=result,
                            _shards={"total": 2, "successful": 1, "failed": 0},
                            _seq_no=STATE["seq_no"],
                            _primary_term=1,
                            status=status,
                        )
                if "error" in item:
                    errors = True
                items.append({op: item})
        took = int((time.monotonic() - t0) * 1000)
        if knobs.get("bogus_items"):
            # A broken proxy or cluster: items that match no action (a client must not count
            # the response as delivering what it sent).
            items = items + [{"create": {"_index": "x", "_id": "x", "status": 201}}] * int(knobs["bogus_items"])
        return finish(200, {"took": took, "errors": errors, "items": items})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0, help="listen on this port (default: any)")
    ap.add_argument("--keep", help="store only this dotted path of each document")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--api-key")
    ap.add_argument("--data-streams", default="")
    ap.add_argument("--max-body", type=int, default=0)
    a = ap.parse_args()
    DEFAULTS.update(
        {
            "user": a.user,
            "password": a.password,
            "api_key": a.api_key,
            "data_streams": [s for s in a.data_streams.split(",") if s],
            "max_body": a.max_body,
            "keep": a.keep,
        }
    )
    reset_state()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    import os

    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
