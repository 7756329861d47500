#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A loopback Splunk HTTP Event Collector for vigil's tests (python3 standard library only).

It models the behaviour documented in Splunk's "HTTP Event Collector REST API endpoints",
"Format events for HTTP Event Collector", "About HTTP Event Collector Indexer Acknowledgment" and
"Troubleshoot HTTP Event Collector" (the status code table) pages:

  POST /services/collector/event (also /services/collector and /services/collector/event/1.0)
    - body: one or more JSON event objects, concatenated (whitespace between them allowed);
      Content-Encoding: gzip bodies are inflated first (on /ack too)
    - Authorization: Splunk <token>: missing -> 401 code 2 "Token is required", another scheme
      -> 401 code 3 "Invalid authorization", unknown token -> 403 code 4 "Invalid token",
      disabled token -> 403 code 1 "Token disabled"
    - tokens with indexer acknowledgement: the channel (X-Splunk-Request-Channel header or
      ?channel=) is required: missing -> 400 code 10 "Data channel is missing", not a GUID ->
      400 code 11 "Invalid data channel"; success answers carry "ackId", numbered per channel
      from 0
    - empty body -> 400 code 5 "No data"
    - an event that is not valid JSON or not an object, or has a non-numeric "time" -> 400
      code 6 "Invalid data format"; no "event" key -> 400 code 12 "Event field is required";
      "event" null or "" -> 400 code 13 "Event field cannot be blank"; an "index" not allowed
      for the token -> 400 code 7 "Incorrect index". These answers carry
      "invalid-event-number" (0-based) and, as Splunk does, the events before it are indexed.
    - a body over max_content_length -> 413
    - success -> 200 {"text":"Success","code":0[,"ackId":N]}
  POST /services/collector/ack?channel=<GUID>  {"acks":[ids]} -> {"acks":{"id":true|false}};
    an id reports true once, when its events are indexed (here: ack_delay seconds after the
    request; never with ack_never), and is forgotten after it was reported true. A token
    without acknowledgement -> 400 code 14 "ACK is disabled".
  GET /services/collector/health -> 200 code 17 "HEC is healthy" or 503 code 18 "HEC is
    unhealthy, queues are full" (knob "unhealthy").

Failure knobs (POST /_fake/config with a JSON object; keys are merged into the configuration):
  tokens: {"<token>": {"disabled": bool, "ack": bool, "indexes": [..] or null}}
  busy: N            the next N event requests answer 503 code 9 "Server is busy"
  internal_error: N  the next N event requests answer 500 code 8 "Internal server error"
  drop: N            the next N event requests get no answer (the connection is closed;
                     libcurl retries once by itself on a reused connection)
  bad_event: K       in the next event request, event K (0-based) counts as invalid
                     (400 code 6 with invalid-event-number K); bad_event_requests: how many
                     requests (default 1)
  max_content_length: bytes (default 1000000, the Splunk default of old releases)
  ack_delay: seconds before an ackId becomes true (default 0); ack_never: true
  unhealthy: true
  non_hec: N         the next N event requests get what a proxy or another service on the
                     port would send: non_hec_status (default 200) with an HTML page, no HEC body
                     (nothing is indexed); non_hec_health: true makes the health endpoint do it
  no_ack_id: N       the next N event requests of an acknowledgement token are indexed and
                     answered {"text":"Success","code":0} without "ackId" (a misbehaving
                     front end)
  restart: true      a Splunk restart: the ack state of every channel is lost and ackIds start
                     again from 0 (events stay stored); not kept as a knob
  ack_hang: seconds  /ack requests wait that long before answering (logged at once in
                     /_fake/requests with status null)
Inspection: GET /_fake/events -> {"events":[the stored event objects, as received]},
GET /_fake/requests -> {"requests":[{"method","path","status","code","gzip","n_events",
"channel","auth"}...]}, POST /_fake/reset [JSON object] clears events, requests and ack
channels, restores the default knobs (tokens are kept) and then applies the object like
/_fake/config.

Usage: fake_hec.py --port-file FILE [--token TOKEN] [--ack]; listens on 127.0.0.1, port 0.
"""

import argparse
import gzip
import json
import os
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
EVENT_PATHS = ("/services/collector", "/services/collector/event", "/services/collector/event/1.0")


class State:
    @staticmethod
    def defaults():
        return {
            "tokens": {},
            "busy": 0,
            "internal_error": 0,
            "drop": 0,
            "bad_event": None,
            "bad_event_requests": 1,
            "max_content_length": 1000000,
            "ack_delay": 0.0,
            "ack_never": False,
            "unhealthy": False,
            "non_hec": 0,
            "non_hec_status": 200,
            "non_hec_health": False,
            "no_ack_id": 0,
            "ack_hang": 0,
        }

    def __init__(self):
        self.lock = threading.Lock()
        self.cfg = self.defaults()
        self.events = []
        self.requests = []
        self.channels = {}  # channel -> {"next": int, "pending": {id: ready_time}}


STATE = State()


def parse_events(text):
    """Split concatenated JSON values. Returns (objects, index of the first unparsable)."""
    dec = json.JSONDecoder()
    out = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return out, None
        try:
            obj, i = dec.raw_decode(text, i)
        except ValueError:
            return out, len(out)
        out.append(obj)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffer the answer: http.server sends it when the handler returns, so a request is in
    # /_fake/requests (record() runs after reply()) before its client can see the answer. Sent
    # at once, a client could go on and reset the fake before the request was recorded, and the
    # request would then show up in the next test's log.
    wbufsize = 1 << 20
    server_version = "fake-hec/1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj, code=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return status, code

    def html(self, status):
        body = b"<html><head><title>Login</title></head><body>Please log in</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return status, None

    def hec(self, status, text, code, **extra):
        obj = {"text": text, "code": code}
        obj.update(extra)
        return self.reply(status, obj, code)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def gzipped(self):
        return (self.headers.get("Content-Encoding") or "").strip().lower() == "gzip"

    def record(self, status, code, **kw):
        entry = {"method": self.command, "path": self.path, "status": status, "code": code}
        entry.update(kw)
        with STATE.lock:
            STATE.requests.append(entry)

    def auth(self):
        """Returns (token config, None) or (None, (status, text, code))."""
        h = self.headers.get("Authorization")
        if h is None:
            return None, (401, "Token is required", 2)
        parts = h.split(None, 1)
        if len(parts) != 2 or parts[0] != "Splunk":
            return None, (401, "Invalid authorization", 3)
        with STATE.lock:
            tok = STATE.cfg["tokens"].get(parts[1].strip())
        if tok is None:
            return None, (403, "Invalid token", 4)
        if tok.get("disabled"):
            return None, (403, "Token disabled", 1)
        return tok, None

    def channel(self, query):
        ch = self.headers.get("X-Splunk-Request-Channel")
        if ch is None:
            ch = query.get("channel", [None])[0]
        return ch

    # --- control API -------------------------------------------------------------------
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_fake/events":
            with STATE.lock:
                return self.reply(200, {"events": list(STATE.events)})
        if url.path == "/_fake/requests":
            with STATE.lock:
                return self.reply(200, {"requests": list(STATE.requests)})
        if url.path in ("/services/collector/health", "/services/collector/health/1.0"):
            with STATE.lock:
                bad = STATE.cfg["unhealthy"]
                non_hec = STATE.cfg["non_hec_health"]
            if non_hec:
                st, code = self.html(200)
            elif bad:
                st, code = self.hec(503, "HEC is unhealthy, queues are full", 18)
            else:
                st, code = self.hec(200, "HEC is healthy", 17)
            self.record(st, code)
            return
        self.hec(404, "The requested URL was not found on this server.", 404)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        raw = self.read_body()
        if url.path == "/_fake/config":
            with STATE.lock:
                cfg = json.loads(raw or b"{}")
                if cfg.pop("restart", False):
                    STATE.channels.clear()
                STATE.cfg.update(cfg)
            return self.reply(200, {"ok": True})
        if url.path == "/_fake/reset":
            with STATE.lock:
                tokens = STATE.cfg["tokens"]
                STATE.cfg = State.defaults()
                STATE.cfg["tokens"] = tokens
                STATE.cfg.update(json.loads(raw or b"{}"))
                STATE.events.clear()
                STATE.requests.clear()
                STATE.channels.clear()
            return self.reply(200, {"ok": True})
        if url.path in EVENT_PATHS:
            return self.event(query, raw)
        if url.path in ("/services/collector/ack", "/services/collector/ack/1.0"):
            return self.ack(query, raw)
        self.hec(404, "The requested URL was not found on this server.", 404)

    # --- /services/collector/event ------------------------------------------------------
    def event(self, query, raw):
        gz = self.gzipped()
        ch = self.channel(query)
        auth = self.headers.get("Authorization")

        def done(status, code, n=0):
            self.record(status, code, gzip=gz, n_events=n, channel=ch, auth=auth,
                        size=len(raw))

        with STATE.lock:
            cfg = STATE.cfg
            if cfg["drop"] > 0:
                cfg["drop"] -= 1
                drop = True
            else:
                drop = False
        if drop:
            done(0, None)
            self.close_connection = True
            self.connection.shutdown(2)
            return

        with STATE.lock:
            non_hec = cfg["non_hec"] > 0
            if non_hec:
                cfg["non_hec"] -= 1
        if non_hec:
            return done(*self.html(cfg["non_hec_status"]))
        tok, err = self.auth()
        if err:
            return done(*self.hec(*err))
        if tok.get("ack"):
            if ch is None:
                return done(*self.hec(400, "Data channel is missing", 10))
            if not GUID.match(ch):
                return done(*self.hec(400, "Invalid data channel", 11))
        with STATE.lock:
            if cfg["busy"] > 0:
                cfg["busy"] -= 1
                busy = True
            else:
                busy = False
            if cfg["internal_error"] > 0:
                cfg["internal_error"] -= 1
                ierr = True
            else:
                ierr = False
            limit = cfg["max_content_length"]
        if busy:
            return done(*self.hec(503, "Server is busy", 9))
        if ierr:
            return done(*self.hec(500, "Internal server error", 8))
        if len(raw) > limit:
            return done(*self.reply(413, {"text": "Content-Length of %d too large (maximum is %d)"
                                          % (len(raw), limit)}))
        if gz:
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError):
                return done(*self.hec(400, "Invalid data format", 6, **{"invalid-event-number": 0}))
        text = raw.decode("utf-8", errors="replace")
        if not text.strip():
            return done(*self.hec(400, "No data", 5))

        objs, bad_json = parse_events(text)
        with STATE.lock:
            forced = cfg["bad_event"]
            if forced is not None:
                cfg["bad_event_requests"] -= 1
                if cfg["bad_event_requests"] <= 0:
                    cfg["bad_event"] = None
                    cfg["bad_event_requests"] = 1
        allowed = tok.get("indexes")
        fail = None
        for i, o in enumerate(objs):
            if forced is not None and i == forced:
                fail = (i, "Invalid data format", 6)
            elif not isinstance(o, dict):
                fail = (i, "Invalid data format", 6)
            elif "time" in o and not _numeric(o["time"]):
                fail = (i, "Invalid data format", 6)
            elif "event" not in o:
                fail = (i, "Event field is required", 12)
            elif o["event"] is None or o["event"] == "":
                fail = (i, "Event field cannot be blank", 13)
            elif allowed is not None and "index" in o and o["index"] not in allowed:
                fail = (i, "Incorrect index", 7)
            if fail:
                break
        if fail is None and bad_json is not None:
            fail = (bad_json, "Invalid data format", 6)
        good = objs[: fail[0]] if fail else objs
        with STATE.lock:
            STATE.events.extend(good)
        if fail:
            return done(*self.hec(400, fail[1], fail[2], **{"invalid-event-number": fail[0]}),
                        n=len(good))
        with STATE.lock:
            no_ack_id = cfg["no_ack_id"] > 0
            if no_ack_id:
                cfg["no_ack_id"] -= 1
        if tok.get("ack") and not no_ack_id:
            with STATE.lock:
                c = STATE.channels.setdefault(ch, {"next": 0, "pending": {}})
                ack_id = c["next"]
                c["next"] += 1
                c["pending"][ack_id] = None if cfg["ack_never"] else time.time() + cfg["ack_delay"]
            return done(*self.hec(200, "Success", 0, ackId=ack_id), n=len(good))
        return done(*self.hec(200, "Success", 0), n=len(good))

    # --- /services/collector/ack --------------------------------------------------------
    def ack(self, query, raw):
        ch = self.channel(query)
        with STATE.lock:
            hang = STATE.cfg["ack_hang"]
        if hang:
            self.record(None, None, channel=ch, hanging=True)
            time.sleep(hang)
        tok, err = self.auth()
        if err:
            st, code = self.hec(*err)
            return self.record(st, code, channel=ch)
        if not tok.get("ack"):
            st, code = self.hec(400, "ACK is disabled", 14)
            return self.record(st, code, channel=ch)
        if ch is None:
            st, code = self.hec(400, "Data channel is missing", 10)
            return self.record(st, code, channel=ch)
        if not GUID.match(ch):
            st, code = self.hec(400, "Invalid data channel", 11)
            return self.record(st, code, channel=ch)
        try:
            if self.gzipped():
                raw = gzip.decompress(raw)
            ids = json.loads(raw)["acks"]
            if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
                raise ValueError
        except (ValueError, KeyError, TypeError, OSError, EOFError):
            st, code = self.hec(400, "Invalid data format", 6)
            return self.record(st, code, channel=ch)
        now = time.time()
        out = {}
        with STATE.lock:
            pending = STATE.channels.get(ch, {"pending": {}})["pending"]
            for i in ids:
                ready = i in pending and pending[i] is not None and pending[i] <= now
                out[str(i)] = ready
                if ready:
                    del pending[i]
        st, code = self.reply(200, {"acks": out})
        self.record(st, code, channel=ch, acks=out)


def _numeric(v):
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    if isinstance(v, str):
        try:
            float(v)
            return True
        except ValueError:
            return False
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--token", action="append", default=[])
    ap.add_argument("--ack", action="store_true", help="tokens given with --token use acks")
    args = ap.parse_args()
    for t in args.token:
        STATE.cfg["tokens"][t] = {"disabled": False, "ack": args.ack, "indexes": None}
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
