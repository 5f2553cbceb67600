"""Milepost settings: one module, every value from the environment with a safe default.

Defaults give a server-less development set-up (SQLite and a file-system Celery broker under
``var/``). Production sets ``DATABASE_URL``, ``CELERY_BROKER_URL``, ``SECRET_KEY`` and friends.
"""

import os
import tomllib
from importlib.metadata import version as installed_version
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MILEPOST_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def project_version() -> str:
    """pyproject.toml's version (the one place it is written); the installed package's where
    the source tree is not at hand."""
    pyproject = BASE_DIR / "pyproject.toml"
    if pyproject.exists():
        with pyproject.open("rb") as handle:
            return tomllib.load(handle)["project"]["version"]
    return installed_version("milepost")


VERSION = project_version()
DEBUG = env_bool("DEBUG", default=False)
# The fallback key is for development only; `check --deploy` flags it until SECRET_KEY is set.
SECRET_KEY = env_str("SECRET_KEY", "django-insecure-milepost-development-key-change-me")
# Earlier keys, while rotating SECRET_KEY: sessions, signed links and stored channel credentials
# made under them still work.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", f"http://127.0.0.1:{env_int('MILEPOST_PORT', 8000)}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "tracker.core",
    "tracker.workcal",
    "tracker.accounts",
    "tracker.accounts.sso",
    "tracker.projects",
    "tracker.milestones",
    "tracker.notifications",
    "tracker.reports",
    "tracker.alerts",
    "tracker.integrations",
    "tracker.web",
    "tracker.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Boards of hundreds of cards compress ~10×; Django's gzip adds BREACH mitigation.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "tracker.accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'milepost.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
EMBEDDED_DATABASE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if EMBEDDED_DATABASE:
    # `make run`: web, worker and beat write to one file. WAL lets them read while one writes;
    # every transaction begins IMMEDIATE, taking the write lock up front, so a transaction that
    # read first never fails to upgrade (SQLite's "database is locked" with no wait); a writer
    # waits up to `timeout` seconds (SQLite's busy timeout) for the one before it.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_BUSY_TIMEOUT_SECONDS", 30),
    }
    # The tests' database is a file beside it, so the worker processes a test starts share it.
    _name = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {"NAME": str(_name.with_name(f"test_{_name.name}"))}
    # SQLite has no covering indexes: the reports' planned-due indexes are plain ones there
    # (their INCLUDE columns are for PostgreSQL's index-only scans), which Django warns about.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Sign-in: django-allauth, by username; nobody signs up (staff create accounts). Failed
# sign-ins are limited per client address and per account, and answered 429 with Retry-After.
ACCOUNT_ADAPTER = "tracker.accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_RATE_LIMITS = {"login_failed": env_str("LOGIN_FAILED_RATE", "10/m/ip,5/5m/key")}
# Proxies in front of Milepost whose X-Forwarded-For is trusted for the client's address.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# Single sign-on (allauth's social accounts): Feishu/Lark, DingTalk, WeCom and one OpenID Connect
# provider, each offered on the sign-in page once its credentials are set (none is needed).
# Nobody unknown gets an account unless their verified email is on SSO_SIGNUP_DOMAINS; a
# verified email of an active user signs that user in. Tokens are not stored: sign-in is all
# Milepost uses them for.
SOCIALACCOUNT_ADAPTER = "tracker.accounts.adapter.SocialAccountAdapter"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # Milepost's adapter matches by email itself
SOCIALACCOUNT_LOGIN_ON_GET = False  # the buttons post: a link cannot start a sign-in
# The scheme of the callback URLs sent to providers (behind a TLS proxy too).
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
SSO_SIGNUP_DOMAINS = [domain.lower().lstrip("@") for domain in env_list("SSO_SIGNUP_DOMAINS")]
# Providers whose plain `email` field is the organisation's directory, so counts as verified
# (Feishu's enterprise_email and WeCom's biz_mail always do; OpenID Connect says email_verified).
SSO_TRUSTED_EMAIL_PROVIDERS = env_list("SSO_TRUSTED_EMAIL_PROVIDERS")
# A deactivated person's chat accounts are removed this many days after deactivation.
CHAT_IDENTITY_RETENTION_DAYS = env_int("CHAT_IDENTITY_RETENTION_DAYS", 30)
# In-app inbox items are deleted, read or not, this many days after they arrived.
INBOX_RETENTION_DAYS = env_int("INBOX_RETENTION_DAYS", 90)


def sso_apps(id_name: str, secret_name: str, **app) -> list[dict]:
    """The provider's app when both of its credentials are set; none when neither is."""
    client_id, secret = env_str(id_name), env_str(secret_name)
    if bool(client_id) != bool(secret):
        missing = secret_name if client_id else id_name
        raise ImproperlyConfigured(f"{missing} must be set with {id_name} and {secret_name}")
    return [{"client_id": client_id, "secret": secret, **app}] if client_id else []


def sso_wecom_apps() -> list[dict]:
    apps = sso_apps(
        "WECOM_CORP_ID", "WECOM_SECRET", settings={"agent_id": env_str("WECOM_AGENT_ID")}
    )
    if apps and not env_str("WECOM_AGENT_ID"):
        raise ImproperlyConfigured("WECOM_AGENT_ID must be set with WECOM_CORP_ID")
    return apps


def sso_oidc_apps() -> list[dict]:
    issuer = env_str("OIDC_ISSUER_URL")
    apps = sso_apps(
        "OIDC_CLIENT_ID",
        "OIDC_CLIENT_SECRET",
        provider_id="idp",
        name=env_str("OIDC_NAME", "OpenID Connect"),
        settings={"server_url": issuer},
    )
    if apps and not issuer:
        raise ImproperlyConfigured("OIDC_ISSUER_URL must be set with OIDC_CLIENT_ID")
    return apps


# Feishu's open platform, for sign-in and for app bots' answers (Lark: https://open.larksuite.com).
FEISHU_OPEN_URL = env_str("FEISHU_OPEN_URL", "https://open.feishu.cn")

SOCIALACCOUNT_PROVIDERS = {
    "feishu": {
        "APPS": sso_apps("FEISHU_APP_ID", "FEISHU_APP_SECRET"),
        "OPEN_URL": FEISHU_OPEN_URL,
    },
    "dingtalk": {
        "APPS": sso_apps("DINGTALK_CLIENT_ID", "DINGTALK_CLIENT_SECRET"),
        "AUTH_PARAMS": {"prompt": "consent"},
        "LOGIN_URL": "https://login.dingtalk.com",
        "API_URL": "https://api.dingtalk.com",
        "OAPI_URL": "https://oapi.dingtalk.com",
    },
    "wecom": {
        "APPS": sso_wecom_apps(),
        "LOGIN_URL": "https://login.work.weixin.qq.com",
        "API_URL": "https://qyapi.weixin.qq.com",
    },
    # PKCE (S256) as well as the client secret, as OAuth 2.0's security practice asks.
    "openid_connect": {"APPS": sso_oidc_apps(), "OAUTH_PKCE_ENABLED": True},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REDIS_URL = env_str("REDIS_URL")
CACHES = {
    "default": (
        {"BACKEND": "tracker.core.cache.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Security: strict by default outside DEBUG; `manage.py check --deploy` is clean with real values.
SECURE_SSL_REDIRECT = env_bool(
    "SECURE_SSL_REDIRECT", default=not DEBUG and SITE_URL.startswith("https")
)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=SITE_URL.startswith("https"))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", default=False) else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Email
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Milepost <milepost@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"

# REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tracker.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tracker.core.api.permissions.IsAuthenticatedWithScope"],
    # JSON bodies only: a form or multipart body is refused with 415, and the schema declares
    # application/json alone (generated clients otherwise get three bodies per operation).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # DRF's JSON written by orjson (the same bytes, several times faster), and the browsable API.
    "DEFAULT_RENDERER_CLASSES": [
        "tracker.core.api.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": ["tracker.core.api.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "tracker.core.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "tracker.core.api.schema.MilepostAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["tracker.accounts.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": env_str("API_TOKEN_RATE", "600/minute"),
        "bad_token": env_str("API_BAD_TOKEN_RATE", "20/minute"),
    },
    "EXCEPTION_HANDLER": "tracker.core.api.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Milepost API",
    "DESCRIPTION": "Milestones, boards, alerts and deviation-rate reports for cross-department "
    "campaigns and launches. Authenticate with `Authorization: Token <key>`.",
    "VERSION": VERSION,  # pyproject.toml's; CHANGELOG.md says what changed
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status` or `kind`: name each enum so the schema is unambiguous.
    "ENUM_NAME_OVERRIDES": {
        "ProjectKindEnum": "tracker.projects.models.ProjectKind",
        "ChannelKindEnum": "tracker.notifications.models.ChannelKind",
        "ChannelEventEnum": "tracker.notifications.models.ChannelEvent",
        "ProjectStatusEnum": "tracker.projects.models.ProjectStatus",
        "MilestoneStatusEnum": "tracker.milestones.models.MilestoneStatus",
        "CalendarDayKindEnum": "tracker.workcal.models.DayKind",
        "TemplateOffsetUnitEnum": "tracker.projects.models.OffsetUnit",
        "RollRuleEnum": "tracker.workcal.models.RollRule",
    },
}

# Celery: a file-system broker under var/ unless CELERY_BROKER_URL names a real one (the host is
# only there so that kombu does not warn of a missing one).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost//")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = TIME_ZONE
CELERY_RESULT_EXPIRES = None  # no result backend: nothing to clean up (and no job for it)
# One task at a time on SQLite (one writer anyway), in the worker's own process so that a stop
# lets the running task finish; a pool of processes on a server database.
CELERY_WORKER_POOL = "solo" if EMBEDDED_DATABASE else "prefork"
# WORKER_CONCURRENCY=0 (the default on a server database) means one process per CPU.
CELERY_WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 1 if EMBEDDED_DATABASE else 0) or None
CELERY_BEAT_SCHEDULER = "tracker.core.beat:DatabaseScheduler"
# How long a minute of the beat schedule lasts: 60 except to watch the schedule run fast (the
# end-to-end test of `make run` uses 2, so a 15-minute job comes every 30 seconds).
BEAT_MINUTE_SECONDS = env_int("BEAT_MINUTE_SECONDS", 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Alerts and integrations
# Defaults of a new project's reminder window and escalation ladder (each project keeps its
# own), in working hours of a lateness episode (docs/escalation.md): the department lead, the
# owner, then the escalation contact (a username; a chat channel follows its alert kind).
# Repeat nudges to the assignee every NUDGE_EVERY_HOURS (0: once per working day), at most
# NUDGE_MAX_PER_EPISODE of them.
DUE_SOON_HOURS = env_int("DUE_SOON_HOURS", 24)
ESCALATE_AFTER_HOURS = env_int("ESCALATE_AFTER_HOURS", 8)
ESCALATE_OWNER_AFTER_HOURS = env_int("ESCALATE_OWNER_AFTER_HOURS", 16)
ESCALATE_CONTACT_AFTER_HOURS = env_int("ESCALATE_CONTACT_AFTER_HOURS", 24)
ESCALATION_CONTACT = env_str("ESCALATION_CONTACT")
NUDGE_EVERY_HOURS = env_int("NUDGE_EVERY_HOURS", 0)
NUDGE_MAX_PER_EPISODE = env_int("NUDGE_MAX_PER_EPISODE", 20)
# Working calendar: the organisation's working hours (in TIME_ZONE) and whether reminders and
# escalations may go out at any hour instead of waiting for the next working period.
WORKING_HOURS = env_str("WORKING_HOURS", "09:00-12:00,13:00-18:00")
ALERTS_AT_ANY_HOUR = env_bool("ALERTS_AT_ANY_HOUR", default=False)
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", default=False)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 15)
# The keyword a DingTalk robot secured by "custom keywords" expects in every message's text.
DINGTALK_KEYWORD = env_str("DINGTALK_KEYWORD", "Milepost")
SLACK_SIGNING_SECRET = env_str("SLACK_SIGNING_SECRET")
CHAT_COMMAND_SECRET = env_str("CHAT_COMMAND_SECRET")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
DEVIATION_THRESHOLD = env_str("DEVIATION_THRESHOLD", "0.10")
# Below this many nodes a report's rate is marked a small sample, not "above the threshold".
DEVIATION_SMALL_SAMPLE = env_int("DEVIATION_SMALL_SAMPLE", 5)

# Deadline engine: the outbox's retry policy (exponential backoff with jitter, then failed).
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)
OUTBOX_RETRY_BASE_SECONDS = env_int("OUTBOX_RETRY_BASE_SECONDS", 30)
OUTBOX_RETRY_MAX_SECONDS = env_int("OUTBOX_RETRY_MAX_SECONDS", 3600)
# A flush sends until nothing is due; short of its task's soft time limit (by one send's
# longest wait) it hands over to a fresh flush task. It claims OUTBOX_BATCH_SIZE messages at a
# time (their renders preloaded together), and a fan-out of many messages queues up to
# OUTBOX_FLUSH_TASKS flush tasks at once, one for each OUTBOX_BATCH_SIZE messages, for every
# free worker process to take a share.
OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 50)
OUTBOX_FLUSH_TASKS = env_int("OUTBOX_FLUSH_TASKS", 4)
# A message claimed longer ago than this was cut off mid-send (its worker stopped): the sweep
# puts it back. Longer than any send can take: a flush task is killed at CELERY_TASK_TIME_LIMIT
# (one send: EMAIL_TIMEOUT per SMTP command, WEBHOOK_TIMEOUT_SECONDS for chat), plus a margin,
# since sending again too early means a duplicate (with the same Message-ID).
OUTBOX_CLAIM_TIMEOUT_SECONDS = env_int("OUTBOX_CLAIM_TIMEOUT_SECONDS", 600)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")

# Operations (tracker.ops): logs, metrics, readiness, error reporting. See docs/deploy.md.
INSTALLED_APPS += ["tracker.ops"]
MIDDLEWARE = [
    "tracker.ops.middleware.RequestIdMiddleware",
    "tracker.ops.middleware.MetricsMiddleware",
    *MIDDLEWARE,
]
# `plain` (default) or `json`: one JSON object per line, with the request or task id.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING["filters"] = {"context": {"()": "tracker.ops.logs.ContextFilter"}}
LOGGING["formatters"] = {
    "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(ctx)s] %(message)s"},
    "json": {"()": "tracker.ops.logs.JsonFormatter"},
}
LOGGING["handlers"]["console"].update(formatter=LOG_FORMAT, filters=["context"])
# The worker logs through LOGGING too, so its lines carry the task id and follow LOG_FORMAT.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# /metrics: allowed with `Authorization: Bearer METRICS_TOKEN`, or from METRICS_ALLOWED_NETWORKS
# (comma-separated CIDRs, matched against REMOTE_ADDR); refused to everyone else.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS")
# /readyz fails when the beat heartbeat or the oldest pending outbox message is older than these.
READY_HEARTBEAT_MAX_AGE_SECONDS = env_int("READY_HEARTBEAT_MAX_AGE_SECONDS", 180)
READY_OUTBOX_MAX_AGE_SECONDS = env_int("READY_OUTBOX_MAX_AGE_SECONDS", 1800)
# Probes and scrapers talk plain HTTP to the app, behind the TLS proxy.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=float(env_str("SENTRY_TRACES_SAMPLE_RATE", "0") or 0),
        send_default_pii=False,
    )
