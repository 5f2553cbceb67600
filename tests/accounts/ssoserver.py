"""A real HTTP server on loopback that plays the sign-in side of an OpenID Connect provider,
Feishu, DingTalk and WeCom, as each documents it (written here independently of the code
under test): it checks the client's credentials, the redirect URI, PKCE and the one-time codes,
and answers in the platform's own shapes. The person who "approves" the sign-in is whoever a
test puts in `people[platform]`.

- OpenID Connect (Core 1.0, Discovery 1.0): discovery document, authorization endpoint,
  token endpoint (client_secret_basic or client_secret_post, PKCE S256), userinfo and JWKS;
  the id_token is a real RS256 JWT signed with a fresh RSA key (joserfc).
- Feishu: authen/v1/index, auth/v3/app_access_token/internal, authen/v1/access_token,
  authen/v1/user_info.
- DingTalk: login.dingtalk.com/oauth2/auth (answers `authCode`), v1.0/oauth2/userAccessToken,
  v1.0/contact/users/me, oapi gettoken and topapi/user/getbyunionid.
- WeCom: wwlogin/sso/login, cgi-bin/gettoken, cgi-bin/auth/getuserinfo, cgi-bin/user/get.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENTS = {
    "oidc": ("milepost-oidc", "oidc-secret"),
    "feishu": ("cli_a1b2c3", "feishu-app-secret"),
    "dingtalk": ("dingabc123", "dingtalk-client-secret"),
    "wecom": ("ww0123456789abcdef", "wecom-app-secret"),
}
WECOM_AGENT_ID = "1000002"


class SsoServer:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig"})
        self.people: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}  # code → what it was issued for
        self.tokens: dict[str, tuple[str, dict]] = {}  # access token → (platform, person)
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.refuse_directory = False  # DingTalk / WeCom apps without directory permission
        self.id_token_audience: str | None = None  # a wrong audience, to test the check
        self.garbled = False  # user info answers that lack the documented fields
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = server.handle(
                    method, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Location" not in headers:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> SsoServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        with self.lock:
            self.people.clear()
            self.codes.clear()
            self.tokens.clear()
            self.requests.clear()
            self.refuse_directory = False
            self.id_token_audience = None
            self.garbled = False

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    # Shared ------------------------------------------------------------------------------
    def _code(self, platform: str, **issued) -> str:
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = {"platform": platform, "person": self.people[platform], **issued}
        return code

    def _redeem(self, platform: str, code: str) -> dict | None:
        """A code works once, for the platform it was issued by."""
        with self.lock:
            issued = self.codes.pop(code, None)
        return issued if issued and issued["platform"] == platform else None

    def _token(self, platform: str, person: dict) -> str:
        token = secrets.token_urlsafe(16)
        with self.lock:
            self.tokens[token] = (platform, person)
        return token

    def _person(self, platform: str, token: str) -> dict | None:
        with self.lock:
            found = self.tokens.get(token)
        return found[1] if found and found[0] == platform else None

    @staticmethod
    def _redirect(uri: str, **params) -> tuple[int, dict, bytes]:
        joiner = "&" if "?" in uri else "?"
        return 302, {"Location": f"{uri}{joiner}{urlencode(params)}"}, b""

    def handle(self, method: str, raw: str, headers: dict, body: bytes):
        parts = urlsplit(raw)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append((method, parts.path))
        path = parts.path
        if path.startswith("/open-apis/"):
            path = "/feishu" + path  # Feishu at the origin too: its SDK takes only an origin
        platform, _, rest = path.lstrip("/").partition("/")
        handler = getattr(self, f"_{platform.replace('-', '_')}", None)
        if handler is None:
            return 404, {}, {"error": "not found"}
        return handler(method, "/" + rest, query, headers, body)

    # OpenID Connect ----------------------------------------------------------------------
    @property
    def issuer(self) -> str:
        return self.url("/oidc")

    def _oidc(self, method, path, query, headers, body):
        if path == "/.well-known/openid-configuration":
            return (
                200,
                {},
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": self.issuer + "/authorize",
                    "token_endpoint": self.issuer + "/token",
                    "userinfo_endpoint": self.issuer + "/userinfo",
                    "jwks_uri": self.issuer + "/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": [
                        "client_secret_basic",
                        "client_secret_post",
                    ],
                    "code_challenge_methods_supported": ["S256"],
                    "scopes_supported": ["openid", "profile", "email"],
                },
            )
        if path == "/jwks":
            return 200, {}, {"keys": [self.key.as_dict(private=False)]}
        if path == "/authorize":
            if query.get("client_id") != CLIENTS["oidc"][0] or query.get("response_type") != "code":
                return 400, {}, {"error": "invalid_request"}
            if "openid" not in query.get("scope", "").split():
                return 400, {}, {"error": "invalid_scope"}
            code = self._code(
                "oidc",
                redirect_uri=query["redirect_uri"],
                nonce=query.get("nonce"),
                challenge=query.get("code_challenge"),
                method=query.get("code_challenge_method"),
            )
            return self._redirect(query["redirect_uri"], code=code, state=query.get("state", ""))
        if path == "/token" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            client_id, secret = form.get("client_id"), form.get("client_secret")
            if headers.get("authorization", "").startswith("Basic "):
                decoded = base64.b64decode(headers["authorization"][6:]).decode()
                client_id, _, secret = decoded.partition(":")
            if (client_id, secret) != CLIENTS["oidc"]:
                return 401, {}, {"error": "invalid_client"}
            issued = self._redeem("oidc", form.get("code", ""))
            if form.get("grant_type") != "authorization_code" or issued is None:
                return 400, {}, {"error": "invalid_grant"}
            if form.get("redirect_uri") != issued["redirect_uri"]:
                return 400, {}, {"error": "invalid_grant", "error_description": "redirect_uri"}
            if issued["challenge"]:
                verifier = form.get("code_verifier", "")
                digest = hashlib.sha256(verifier.encode()).digest()
                computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if issued["method"] != "S256" or computed != issued["challenge"]:
                    return 400, {}, {"error": "invalid_grant", "error_description": "PKCE"}
            person = issued["person"]
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "sub": person["sub"],
                "aud": self.id_token_audience or client_id,
                "iat": now,
                "exp": now + 300,
                **({"nonce": issued["nonce"]} if issued["nonce"] else {}),
                **{k: v for k, v in person.items() if k != "sub"},
            }
            id_token = jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, self.key)
            return (
                200,
                {"Cache-Control": "no-store"},
                {
                    "access_token": self._token("oidc", person),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": id_token,
                },
            )
        if path == "/userinfo":
            person = self._person("oidc", headers.get("authorization", "")[7:])
            if person is None:
                return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, {}
            return 200, {}, person
        return 404, {}, {"error": "not found"}

    # Feishu ------------------------------------------------------------------------------
    def _feishu(self, method, path, query, headers, body):
        app_id, app_secret = CLIENTS["feishu"]
        if path == "/open-apis/authen/v1/index":
            if query.get("app_id") != app_id:
                return 200, {}, {"code": 20029, "msg": "app_id invalid"}
            code = self._code("feishu", redirect_uri=query["redirect_uri"])
            return self._redirect(query["redirect_uri"], code=code, state=query.get("state", ""))
        # Documented without the final slash; allauth sends one.
        if path.rstrip("/") == "/open-apis/auth/v3/app_access_token/internal" and method == "POST":
            # JSON (the SDK's token manager sends it with no Content-Type) or a form (allauth).
            if body.lstrip().startswith(b"{"):
                form = json.loads(body)
            else:
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if (form.get("app_id"), form.get("app_secret")) != (app_id, app_secret):
                return 200, {}, {"code": 10014, "msg": "app secret invalid"}
            token = self._token("feishu-app", {})
            return 200, {}, {"code": 0, "msg": "ok", "app_access_token": token, "expire": 7200}
        if path == "/open-apis/authen/v1/access_token" and method == "POST":
            data = json.loads(body)
            # The app's token: in the body (the older form allauth sends) or, as Feishu's
            # current documentation and its SDK send it, as the bearer token.
            bearer = headers.get("authorization", "")[7:]
            with self.lock:
                app_ok = self.tokens.get(data.get("app_access_token") or bearer, ("",))[0]
            if app_ok != "feishu-app":
                return 200, {}, {"code": 20014, "msg": "app access token invalid"}
            issued = self._redeem("feishu", data.get("code", ""))
            if data.get("grant_type") != "authorization_code" or issued is None:
                return 200, {}, {"code": 20003, "msg": "code invalid"}
            person = issued["person"]
            return (
                200,
                {},
                {
                    "code": 0,
                    "msg": "success",
                    "data": {
                        "access_token": self._token("feishu", person),
                        "token_type": "Bearer",
                        "expires_in": 6900,
                        "refresh_token": "ur-" + secrets.token_urlsafe(8),
                        "refresh_expires_in": 2592000,
                        "open_id": person["open_id"],
                        "union_id": person.get("union_id", ""),
                        "tenant_key": "tk-1",
                    },
                },
            )
        if path == "/open-apis/authen/v1/user_info":
            person = self._person("feishu", headers.get("authorization", "")[7:])
            if person is None:
                return 200, {}, {"code": 20005, "msg": "user access token invalid"}
            if self.garbled:
                return 200, {}, {"code": 0, "msg": "success"}
            return 200, {}, {"code": 0, "msg": "success", "data": person}
        return 404, {}, {"code": 404}

    # DingTalk ----------------------------------------------------------------------------
    def _dingtalk_login(self, method, path, query, headers, body):
        if path != "/oauth2/auth":
            return 404, {}, {}
        if query.get("client_id") != CLIENTS["dingtalk"][0] or query.get("prompt") != "consent":
            return 400, {}, {"code": "invalidParameter"}
        code = self._code("dingtalk", redirect_uri=query["redirect_uri"])
        # DingTalk names the code `authCode`.
        return self._redirect(query["redirect_uri"], authCode=code, state=query.get("state", ""))

    def _dingtalk_api(self, method, path, query, headers, body):
        if path == "/v1.0/oauth2/userAccessToken" and method == "POST":
            data = json.loads(body)
            if (data.get("clientId"), data.get("clientSecret")) != CLIENTS["dingtalk"]:
                return 400, {}, {"code": "invalidClientId", "message": "client invalid"}
            issued = self._redeem("dingtalk", data.get("code", ""))
            if data.get("grantType") != "authorization_code" or issued is None:
                return 400, {}, {"code": "invalidAuthCode", "message": "code invalid"}
            return (
                200,
                {},
                {
                    "accessToken": self._token("dingtalk", issued["person"]),
                    "refreshToken": secrets.token_urlsafe(8),
                    "expireIn": 7200,
                    "corpId": "ding-corp-1",
                },
            )
        if path == "/v1.0/contact/users/me":
            person = self._person("dingtalk", headers.get("x-acs-dingtalk-access-token", ""))
            if person is None:
                return 401, {}, {"code": "InvalidAuthentication"}
            if self.garbled:
                return 200, {}, ["not", "an", "object"]
            return 200, {}, {k: v for k, v in person.items() if k != "userid"}
        return 404, {}, {}

    def _dingtalk_oapi(self, method, path, query, headers, body):
        if path == "/gettoken":
            if (query.get("appkey"), query.get("appsecret")) != CLIENTS["dingtalk"]:
                return 200, {}, {"errcode": 40089, "errmsg": "invalid appkey or appsecret"}
            return (
                200,
                {},
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "access_token": self._token("dingtalk-app", {}),
                    "expires_in": 7200,
                },
            )
        if path == "/topapi/user/getbyunionid" and method == "POST":
            with self.lock:
                app_ok = self.tokens.get(query.get("access_token", ""), ("",))[0]
            if app_ok != "dingtalk-app":
                return 200, {}, {"errcode": 40014, "errmsg": "invalid access_token"}
            if self.refuse_directory:
                return 200, {}, {"errcode": 60011, "errmsg": "no privilege"}
            union_id = json.loads(body).get("unionid")
            person = self.people.get("dingtalk", {})
            if union_id != person.get("unionId"):
                return 200, {}, {"errcode": 60121, "errmsg": "user not found"}
            return (
                200,
                {},
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "result": {"contact_type": 0, "userid": person["userid"]},
                    "request_id": "r1",
                },
            )
        return 404, {}, {}

    # WeCom -------------------------------------------------------------------------------
    def _wecom_login(self, method, path, query, headers, body):
        if path != "/wwlogin/sso/login":
            return 404, {}, {}
        expected = ("CorpApp", CLIENTS["wecom"][0], WECOM_AGENT_ID)
        if (query.get("login_type"), query.get("appid"), query.get("agentid")) != expected:
            return 400, {}, b"invalid login parameters"
        code = self._code("wecom", redirect_uri=query["redirect_uri"])
        return self._redirect(
            query["redirect_uri"], code=code, state=query.get("state", ""), appid=expected[1]
        )

    def _wecom_api(self, method, path, query, headers, body):
        if path == "/cgi-bin/gettoken":
            if (query.get("corpid"), query.get("corpsecret")) != CLIENTS["wecom"]:
                return 200, {}, {"errcode": 40001, "errmsg": "invalid credential"}
            return (
                200,
                {},
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "access_token": self._token("wecom-app", {}),
                    "expires_in": 7200,
                },
            )
        with self.lock:
            app_ok = self.tokens.get(query.get("access_token", ""), ("",))[0]
        if app_ok != "wecom-app":
            return 200, {}, {"errcode": 40014, "errmsg": "invalid access_token"}
        if path == "/cgi-bin/auth/getuserinfo":
            issued = self._redeem("wecom", query.get("code", ""))
            if issued is None:
                return 200, {}, {"errcode": 40029, "errmsg": "invalid code"}
            person = issued["person"]
            if "userid" not in person:  # not a member: WeCom gives an openid only
                return 200, {}, {"errcode": 0, "errmsg": "ok", "openid": person["openid"]}
            return 200, {}, {"errcode": 0, "errmsg": "ok", "userid": person["userid"]}
        if path == "/cgi-bin/user/get":
            if self.refuse_directory:
                return 200, {}, {"errcode": 60011, "errmsg": "no privilege to access"}
            person = self.people.get("wecom", {})
            if query.get("userid") != person.get("userid"):
                return 200, {}, {"errcode": 60111, "errmsg": "userid not found"}
            return 200, {}, {"errcode": 0, "errmsg": "ok", **person}
        return 404, {}, {}
