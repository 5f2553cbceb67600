"""A real HTTP server on loopback that plays the chat platforms: it records every request,
verifies each platform's signature the way the platform does (written here independently of
the code under test), and answers like the platform, or with scripted answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The keyword the docs tell DingTalk admins to secure a robot with (no signing secret).
DINGTALK_KEYWORD = "Milepost"


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    platform: str
    verified: bool | None = None  # None: the platform does not sign
    problem: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Scripted:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def _b64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


class ChatServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.secrets: dict[str, str] = {}  # path → secret
        self.script: dict[str, deque[Scripted]] = defaultdict(deque)
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, headers, text, delay = server.handle(self.path, dict(self.headers), body)
                if delay:
                    time.sleep(delay)
                payload = text.encode()
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # Lifecycle ---------------------------------------------------------------------------
    def start(self) -> ChatServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.secrets.clear()
            self.script.clear()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def answer(self, path: str, status: int, body: str = "", times: int = 1, **kw) -> None:
        for _ in range(times):
            self.script[path].append(Scripted(status, body, **kw))

    def received(self, platform: str | None = None) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if platform in (None, r.platform)]

    # Platform behaviour ------------------------------------------------------------------
    def handle(self, raw_path: str, headers: dict, body: bytes) -> tuple[int, dict, str, float]:
        parts = urlsplit(raw_path)
        path = parts.path
        platform = path.strip("/").split("/")[0]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        lowered = {k.lower(): v for k, v in headers.items()}
        record = Recorded(path, query, lowered, body, platform)
        verify = getattr(self, f"_verify_{platform}", None)
        status, reply_headers, text = 404, {}, "no such hook"
        if verify is not None:
            status, reply_headers, text = verify(record, self.secrets.get(path, ""))
        with self.lock:
            self.requests.append(record)
            scripted = self.script[path].popleft() if self.script[path] else None
        if scripted is not None:
            return scripted.status, scripted.headers, scripted.body, scripted.delay
        return status, reply_headers, text, 0.0

    def _verify_feishu(self, record: Recorded, secret: str):
        data = record.json
        if len(record.body) > 20 * 1024:
            return 200, {}, json.dumps({"code": 9499, "msg": "Bad Request"})
        if data.get("msg_type") != "interactive" or "card" not in data:
            return 200, {}, json.dumps({"code": 9499, "msg": "Bad Request"})
        if secret:
            timestamp = str(data.get("timestamp", ""))
            expected = _b64_hmac(f"{timestamp}\n{secret}".encode(), b"")
            fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 3600
            record.verified = fresh and hmac.compare_digest(expected, str(data.get("sign", "")))
            if not record.verified:
                record.problem = "sign"
                return (
                    200,
                    {},
                    json.dumps(
                        {
                            "code": 19021,
                            "msg": "sign match fail or timestamp is not within one hour",
                        }
                    ),
                )
        return 200, {}, json.dumps({"code": 0, "msg": "success", "data": {}})

    def _verify_dingtalk(self, record: Recorded, secret: str):
        if not record.query.get("access_token"):
            return 200, {}, json.dumps({"errcode": 300001, "errmsg": "token is not exist"})
        if secret:
            timestamp = record.query.get("timestamp", "")
            expected = _b64_hmac(secret.encode(), f"{timestamp}\n{secret}".encode())
            fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < 3600_000
            record.verified = fresh and hmac.compare_digest(expected, record.query.get("sign", ""))
            if not record.verified:
                record.problem = "sign"
                return 200, {}, json.dumps({"errcode": 310000, "errmsg": "sign not match"})
        msgtype = record.json.get("msgtype")
        if msgtype not in {"markdown", "actionCard", "text"}:
            return 200, {}, json.dumps({"errcode": 40035, "errmsg": "缺少参数 json"})
        text = (record.json.get(msgtype) or {}).get("text") or ""
        if isinstance(text, dict):
            text = text.get("content", "")
        if not secret and DINGTALK_KEYWORD not in text:
            # A robot secured by keywords: the keyword must be in the text itself.
            record.problem = "keyword"
            return 200, {}, json.dumps({"errcode": 310000, "errmsg": "keywords not in content"})
        return 200, {}, json.dumps({"errcode": 0, "errmsg": "ok"})

    def _verify_wecom(self, record: Recorded, secret: str):
        if not record.query.get("key"):
            return 200, {}, json.dumps({"errcode": 93000, "errmsg": "invalid webhook url"})
        data = record.json
        # Content limits: markdown 4096 bytes, text 2048 bytes (group robot documentation).
        limits = {"markdown": 4096, "text": 2048}
        msgtype = data.get("msgtype")
        if msgtype not in limits:
            return 200, {}, json.dumps({"errcode": 40008, "errmsg": "invalid message type"})
        if len(data[msgtype]["content"].encode()) > limits[msgtype]:
            return 200, {}, json.dumps({"errcode": 40058, "errmsg": "content exceed max length"})
        lists = [data[msgtype].get(k, []) for k in ("mentioned_list", "mentioned_mobile_list")]
        if msgtype == "markdown" and any(lists):
            # Markdown messages mention only with <@userid> in the content.
            return 200, {}, json.dumps({"errcode": 40058, "errmsg": "invalid mentioned_list"})
        return 200, {}, json.dumps({"errcode": 0, "errmsg": "ok"})

    def _verify_slack(self, record: Recorded, secret: str):
        data = record.json
        if not data.get("text") or len(data.get("blocks", [])) > 50:
            return 400, {}, "invalid_blocks"
        return 200, {}, "ok"

    def _verify_teams(self, record: Recorded, secret: str):
        data = record.json
        attachments = data.get("attachments") or []
        if data.get("type") != "message" or not attachments:
            return 400, {}, "Bad Request"
        if attachments[0].get("contentType") != "application/vnd.microsoft.card.adaptive":
            return 400, {}, "Bad Request"
        card = attachments[0].get("content") or {}
        texts = json.dumps(card.get("body") or [], ensure_ascii=False)
        for entity in (card.get("msteams") or {}).get("entities") or []:
            # A mention's text must appear in the card, and name whom it mentions.
            mentioned = entity.get("mentioned") or {}
            if entity.get("type") != "mention" or not mentioned.get("id"):
                return 400, {}, "Bad Request"
            if json.dumps(entity.get("text", ""), ensure_ascii=False)[1:-1] not in texts:
                return 400, {}, "Bad Request"
        return 202, {}, ""

    def _verify_webhook(self, record: Recorded, secret: str):
        key = base64.b64decode(secret.removeprefix("whsec_"))
        message_id = record.headers.get("webhook-id", "")
        timestamp = record.headers.get("webhook-timestamp", "")
        signed = f"{message_id}.{timestamp}.".encode() + record.body
        expected = _b64_hmac(key, signed)
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= 300
        given = [
            s.split(",", 1)[1]
            for s in record.headers.get("webhook-signature", "").split()
            if s.startswith("v1,")
        ]
        record.verified = bool(
            message_id and fresh and any(hmac.compare_digest(expected, g) for g in given)
        )
        if not record.verified:
            record.problem = "sign"
            return 401, {}, "bad signature"
        return 204, {}, ""

    # Feishu's Open API, for an app bot's answers (served under /feishuapi).
    FEISHU_TOKEN = "t-g1044ghJRUIJJ5ELMDTLMPC6ZDRT7YL23BTNYH5B"

    def _verify_feishuapi(self, record: Recorded, secret: str):
        path = record.path.removeprefix("/feishuapi")
        if path == "/open-apis/auth/v3/tenant_access_token/internal":
            data = record.json
            record.verified = data.get("app_secret") == self.secrets.get("feishu-app-secret")
            if not record.verified:
                return 200, {}, json.dumps({"code": 10014, "msg": "app secret invalid"})
            answer = {
                "code": 0,
                "msg": "ok",
                "tenant_access_token": self.FEISHU_TOKEN,
                "expire": 7200,
            }
            return 200, {}, json.dumps(answer)
        if path.startswith("/open-apis/im/v1/messages/") and path.endswith("/reply"):
            record.verified = record.headers.get("authorization") == f"Bearer {self.FEISHU_TOKEN}"
            if not record.verified:
                return 401, {}, json.dumps({"code": 99991663, "msg": "Invalid access token"})
            data = record.json
            if data.get("msg_type") != "interactive" or not isinstance(data.get("content"), str):
                return 400, {}, json.dumps({"code": 230001, "msg": "invalid content"})
            return (
                200,
                {},
                json.dumps({"code": 0, "msg": "success", "data": {"message_id": "om_r"}}),
            )
        if path == "/open-apis/im/v1/messages":
            record.verified = record.headers.get("authorization") == f"Bearer {self.FEISHU_TOKEN}"
            if not record.verified:
                return 401, {}, json.dumps({"code": 99991663, "msg": "Invalid access token"})
            data = record.json
            if record.query.get("receive_id_type") != "chat_id" or not data.get("receive_id"):
                return 400, {}, json.dumps({"code": 230001, "msg": "invalid receive_id"})
            if data.get("msg_type") != "interactive" or not isinstance(data.get("content"), str):
                return 400, {}, json.dumps({"code": 230001, "msg": "invalid content"})
            return (
                200,
                {},
                json.dumps({"code": 0, "msg": "success", "data": {"message_id": "om_a"}}),
            )
        return 404, {}, json.dumps({"code": 404, "msg": "not found"})
