"""Gatehouse settings: one module, configured entirely from the environment.

Every setting has an embedded default so that `make run` works on a bare machine (SQLite under
var/, blobs under var/storage/, a filesystem Celery broker). Production sets DATABASE_URL,
REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and friends; see README.md for the full list.
"""

import ipaddress
import os
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("GATEHOUSE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _persistent_secret_key() -> str:
    """A random key kept in var/ so sessions survive restarts of a local instance. gunicorn's
    workers start at once and each may find no key yet: each writes a name of its own and links it
    into place, which never replaces a key another process made first, so all read the same one
    (one shared `.tmp` name made a worker fail to boot, and replacing gave workers different keys)."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        tmp = VAR_DIR / f"secret_key.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        tmp.write_text(secrets.token_urlsafe(50))
        tmp.chmod(0o600)
        try:
            os.link(tmp, key_file)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return key_file.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _persistent_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Plain HTTP that reached us through the proxy is sent to HTTPS; the probes of a load balancer
    # and a metrics scraper that ask a web process directly are not (found by an outsider: a
    # loopback scrape of /metrics was sent to the proxy, which refuses it).
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# HSTS is a promise browsers keep for this long: set it once HTTPS is there to stay.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Django's check looks for its own CSRF middleware by name; ours subclasses it (core.bodies) and
# core.checks verifies that it is installed, so security.W003 is replaced, not ignored.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "core",
    "accounts",
    "registry",
    "licenses.apps.LicensesConfig",
    "gating.apps.GatingConfig",
    "community",
    "workers",
    "xet.apps.XetConfig",
    "githttp.apps.GitHttpConfig",
    "webhooks.apps.WebhooksConfig",
    "mirror.apps.MirrorConfig",
]

MIDDLEWARE = [
    # First: times and counts every request, whatever answers it (core/metrics.py).
    "core.metrics.MetricsMiddleware",
    "core.middleware.RequestIdMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "core.middleware.StorageFullMiddleware",
    "core.middleware.RejectControlCharactersMiddleware",
    # The API and downloads, per address and token, with the Hub's RateLimit headers.
    "core.middleware.RateLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.CallerCacheMiddleware",
    "core.middleware.HubMethodNotAllowedMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Per-route body limits, then a CSRF check that reads at most 64 KiB of a body (core.bodies).
    "core.bodies.RequestBodyMiddleware",
    "core.bodies.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    # Requests naming a mirrored namespace are answered by the mirror's routes (mirror/urls.py).
    "mirror.middleware.MirrorRoutingMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "registry:home"
LOGOUT_REDIRECT_URL = "registry:home"
# Hub clients never use trailing slashes; a 301 on a POST would lose the body.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'gatehouse.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets the web and worker processes read while one writes; IMMEDIATE takes the
            # write lock up front instead of failing on a lock upgrade.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # Django's SQLite backend with the writers of each process queued on a lock of their own
    # instead of all polling SQLite's (see there).
    DATABASES["default"]["ENGINE"] = "core.dbbackends.sqlite3"
    # Tests use a file, not the shared in-memory database: live-server threads then get their own
    # connections with WAL and a busy timeout, as in production.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-gatehouse.sqlite3")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's PostgreSQL backend with a health check that needs no round trip (see there).
    DATABASES["default"]["ENGINE"] = "core.dbbackends.postgresql"
# Persistent connections for both engines: opening a SQLite connection (plus the PRAGMAs above)
# costs more than the two indexed queries of a HEAD /resolve (bench/resolve_head_rps.py).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Bounded waits: a Redis that hangs fails a cache call after this long instead of holding
    # the request (commits read the quota counters there, sign-ins the throttle).
    REDIS_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=2.0)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Request bodies (core.bodies): every route takes at most GATEHOUSE_MAX_BODY_BYTES unless it
# declares more (413 before a byte is read); routes listing many paths or carrying a whole text
# file take up to DATA_UPLOAD_MAX_MEMORY_SIZE; only uploads (streamed, or portal forms with files)
# take more, up to the upload limits below.
GATEHOUSE_MAX_BODY_BYTES = env.int("GATEHOUSE_MAX_BODY_BYTES", default=1024 * 1024)
# git's upload-pack requests (wants and haves, githttp): at most this many bytes, gzipped or not.
GATEHOUSE_GIT_MAX_REQUEST_BYTES = env.int("GATEHOUSE_GIT_MAX_REQUEST_BYTES", default=8 * 1024 * 1024)
# git push (githttp.receive): the request as sent and its objects inflated (large files go through
# Git LFS), the objects in one pack, and the seconds its reading may take. The inflated regular
# files of a push are held in memory: 192 MiB of them grew a worker by 222 MiB
# (bench/git_push_memory.py), inside the 256 MiB a push may cost a process.
GATEHOUSE_GIT_MAX_PUSH_BYTES = env.int("GATEHOUSE_GIT_MAX_PUSH_BYTES", default=192 * 1024 * 1024)
GATEHOUSE_GIT_MAX_PUSH_OBJECTS = env.int("GATEHOUSE_GIT_MAX_PUSH_OBJECTS", default=200_000)
# Paths (files and folders) the new trees of one push may name, each commit's counted in full: a
# tree may name one subtree many times, so a small pack can describe millions of paths.
GATEHOUSE_GIT_MAX_PUSH_PATHS = env.int("GATEHOUSE_GIT_MAX_PUSH_PATHS", default=200_000)
GATEHOUSE_GIT_PUSH_SECONDS = env.int("GATEHOUSE_GIT_PUSH_SECONDS", default=300)
# Full-clone responses kept per (repo, wants, capabilities) (githttp.packcache); 0 bytes: off.
GATEHOUSE_GIT_PACK_CACHE_DIR = Path(env.str("GATEHOUSE_GIT_PACK_CACHE_DIR", default=str(VAR_DIR / "git-packs")))
GATEHOUSE_GIT_PACK_CACHE_BYTES = env.int("GATEHOUSE_GIT_PACK_CACHE_BYTES", default=2 * 1024**3)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)
# Slow clients (core.gunicorn_worker, core.socketbody): a request head must arrive whole within
# GATEHOUSE_HEAD_TIMEOUT seconds; a body that sends nothing for GATEHOUSE_BODY_IDLE_TIMEOUT seconds
# is answered 408 and the connection closed. Neither holds a server thread while it waits.
GATEHOUSE_HEAD_TIMEOUT = env.float("GATEHOUSE_HEAD_TIMEOUT", default=20.0)
GATEHOUSE_BODY_IDLE_TIMEOUT = env.float("GATEHOUSE_BODY_IDLE_TIMEOUT", default=120.0)
# A response's send waits at most this long for the client to take more bytes (core.gunicorn_worker).
GATEHOUSE_SEND_IDLE_TIMEOUT = env.float("GATEHOUSE_SEND_IDLE_TIMEOUT", default=60.0)
# ...and a body read by a thread must average this many bytes a second once GATEHOUSE_HEAD_TIMEOUT
# has passed (0: no minimum). LFS uploads read the socket themselves: the idle timeout bounds them.
GATEHOUSE_BODY_MIN_RATE = env.float("GATEHOUSE_BODY_MIN_RATE", default=1024.0)
# Browser uploads (portal forms): the size limits apply while the body is read, before Django's
# handlers keep a byte (registry.limits.LimitedUploadHandler). The portal takes folders of up to
# 500 files and says so beyond; Django's own cut-off (default 100) answers a bare 400 past this
# bound. Each file of a large form in flight holds a temp file open: see README (LimitNOFILE).
FILE_UPLOAD_HANDLERS = [
    "registry.limits.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_NUMBER_FILES = 600

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="gatehouse@localhost")
# Seconds an SMTP connection may block (connect, each read): mails are sent by outbox tasks whose
# claim lasts GATEHOUSE_OUTBOX_LEASE_SECONDS, and a hung server must not outlast it.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# Per-address limits (sign-in throttles) key on the client's address: behind this many reverse
# proxies, the one the outermost proxy saw in X-Forwarded-For (core.http.client_ip).
GATEHOUSE_TRUSTED_PROXY_HOPS = env.int("GATEHOUSE_TRUSTED_PROXY_HOPS", default=0)
# Sign-in throttles (accounts.throttle): failed logins per address, per address and account, and
# per account from addresses that never signed in to it; sign-up attempts per address.
GATEHOUSE_LOGIN_WINDOW_SECONDS = env.int("GATEHOUSE_LOGIN_WINDOW_SECONDS", default=900)
GATEHOUSE_LOGIN_FAILURES_PER_IP = env.int("GATEHOUSE_LOGIN_FAILURES_PER_IP", default=30)
GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT_IP = env.int("GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT_IP", default=10)
GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT = env.int("GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT", default=100)
GATEHOUSE_SIGNUPS_PER_IP = env.int("GATEHOUSE_SIGNUPS_PER_IP", default=10)
GATEHOUSE_SIGNUP_WINDOW_SECONDS = env.int("GATEHOUSE_SIGNUP_WINDOW_SECONDS", default=3600)
# Who may sign up (accounts.signup): `open` (anyone), `invite` (with an operator's invitation link,
# `manage.py account invite`), `closed` (nobody: operators make accounts with `createuser`).
GATEHOUSE_SIGNUP_MODE = env.str("GATEHOUSE_SIGNUP_MODE", default="open")
if GATEHOUSE_SIGNUP_MODE not in ("open", "invite", "closed"):
    raise ImproperlyConfigured("GATEHOUSE_SIGNUP_MODE must be open, invite or closed.")
GATEHOUSE_SIGNUP_INVITATION_DAYS = env.int("GATEHOUSE_SIGNUP_INVITATION_DAYS", default=7)
# Account mails (accounts.mail): how long a verification link and a password reset link work,
# and password reset requests allowed per address and per account (email) per window.
GATEHOUSE_EMAIL_VERIFY_TIMEOUT = env.int("GATEHOUSE_EMAIL_VERIFY_TIMEOUT", default=3 * 24 * 3600)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
GATEHOUSE_PASSWORD_RESETS_PER_IP = env.int("GATEHOUSE_PASSWORD_RESETS_PER_IP", default=10)
GATEHOUSE_PASSWORD_RESETS_PER_ACCOUNT = env.int("GATEHOUSE_PASSWORD_RESETS_PER_ACCOUNT", default=3)
GATEHOUSE_PASSWORD_RESET_WINDOW_SECONDS = env.int("GATEHOUSE_PASSWORD_RESET_WINDOW_SECONDS", default=3600)
GATEHOUSE_VERIFICATION_MAILS_PER_ACCOUNT = env.int("GATEHOUSE_VERIFICATION_MAILS_PER_ACCOUNT", default=5)
GATEHOUSE_VERIFICATION_MAIL_WINDOW_SECONDS = env.int("GATEHOUSE_VERIFICATION_MAIL_WINDOW_SECONDS", default=3600)
# Requests to the API and downloads (/resolve) per window, per address and per token (each
# request counts against both); 0: no limit. Generous: a busy client or a soak stays well below.
# Invitations an organisation may send per day, and how many days an invitation link lives.
GATEHOUSE_ORG_INVITATIONS_PER_DAY = env.int("GATEHOUSE_ORG_INVITATIONS_PER_DAY", default=50)
GATEHOUSE_ORG_INVITATION_DAYS = env.int("GATEHOUSE_ORG_INVITATION_DAYS", default=7)
GATEHOUSE_RATELIMIT_WINDOW_SECONDS = env.int("GATEHOUSE_RATELIMIT_WINDOW_SECONDS", default=300)
GATEHOUSE_RATELIMIT_API_PER_IP = env.int("GATEHOUSE_RATELIMIT_API_PER_IP", default=100_000)
GATEHOUSE_RATELIMIT_API_PER_TOKEN = env.int("GATEHOUSE_RATELIMIT_API_PER_TOKEN", default=100_000)
GATEHOUSE_RATELIMIT_RESOLVERS_PER_IP = env.int("GATEHOUSE_RATELIMIT_RESOLVERS_PER_IP", default=100_000)
GATEHOUSE_RATELIMIT_RESOLVERS_PER_TOKEN = env.int("GATEHOUSE_RATELIMIT_RESOLVERS_PER_TOKEN", default=100_000)

# Single sign-on with OpenID Connect (accounts.sso; README, "Single sign-on"): on when the issuer
# and the client id are set. Endpoints come from the issuer's discovery document unless set here.
GATEHOUSE_OIDC_ISSUER = env.str("GATEHOUSE_OIDC_ISSUER", default="")
GATEHOUSE_OIDC_CLIENT_ID = env.str("GATEHOUSE_OIDC_CLIENT_ID", default="")
GATEHOUSE_OIDC_CLIENT_SECRET = env.str("GATEHOUSE_OIDC_CLIENT_SECRET", default="")
GATEHOUSE_OIDC_SCOPES = env.str("GATEHOUSE_OIDC_SCOPES", default="openid email profile groups")
GATEHOUSE_OIDC_SIGN_ALGO = env.str("GATEHOUSE_OIDC_SIGN_ALGO", default="RS256")
GATEHOUSE_OIDC_AUTHORIZATION_ENDPOINT = env.str("GATEHOUSE_OIDC_AUTHORIZATION_ENDPOINT", default="")
GATEHOUSE_OIDC_TOKEN_ENDPOINT = env.str("GATEHOUSE_OIDC_TOKEN_ENDPOINT", default="")
GATEHOUSE_OIDC_USERINFO_ENDPOINT = env.str("GATEHOUSE_OIDC_USERINFO_ENDPOINT", default="")
GATEHOUSE_OIDC_JWKS_URI = env.str("GATEHOUSE_OIDC_JWKS_URI", default="")
# Seconds for each call to the provider (discovery, token, keys, userinfo); discovery kept this long.
GATEHOUSE_OIDC_TIMEOUT = env.float("GATEHOUSE_OIDC_TIMEOUT", default=10.0)
GATEHOUSE_OIDC_DISCOVERY_TTL = env.int("GATEHOUSE_OIDC_DISCOVERY_TTL", default=3600)
GATEHOUSE_OIDC_PROVIDER_NAME = env.str("GATEHOUSE_OIDC_PROVIDER_NAME", default="single sign-on")
# The claim that lists the user's groups, and a JSON map from group names to "org:role" (or a list
# of them); the _FILE variant names a JSON file instead and wins when set.
GATEHOUSE_OIDC_GROUPS_CLAIM = env.str("GATEHOUSE_OIDC_GROUPS_CLAIM", default="groups")
GATEHOUSE_OIDC_GROUP_ROLES = env.str("GATEHOUSE_OIDC_GROUP_ROLES", default="")
GATEHOUSE_OIDC_GROUP_ROLES_FILE = env.str("GATEHOUSE_OIDC_GROUP_ROLES_FILE", default="")
# SSO only: no password sign-in or sign-up anywhere (access tokens keep working).
GATEHOUSE_SSO_ONLY = env.bool("GATEHOUSE_SSO_ONLY", default=False)
# Passwords sign in through accounts.sso.backend.PasswordBackend, which SSO-only mode turns off.
AUTHENTICATION_BACKENDS = ["accounts.sso.backend.PasswordBackend", "accounts.sso.backend.OidcBackend"]

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.auth.BearerTokenAuthentication",
        "core.bodies.SessionAuthentication",
    ],
    # SECURITY: deny by default; every API view opts into what it allows.
    "DEFAULT_PERMISSION_CLASSES": ["core.api.DenyAll"],
    "DEFAULT_RENDERER_CLASSES": ["core.api.HubJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.JSONParser"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gatehouse API",
    "DESCRIPTION": "Hugging Face Hub compatible model registry with staged release and gating.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Choice sets that share a field name ("status", "type") get names of their own.
    "ENUM_NAME_OVERRIDES": {
        "AccessRequestStatusEnum": "gating.models.RequestStatus.choices",
        "DiscussionStatusEnum": "community.models.Status.choices",
        "DiscussionStatusChangeEnum": [("open", "open"), ("closed", "closed")],
        "ReportStatusEnum": [("received", "received")],
        "JobStatusEnum": "workers.models.JobStatus.choices",
        "EventTypeEnum": "community.models.EventType.choices",
        "UserTypeEnum": [("user", "user")],
        "OrgTypeEnum": [("org", "org")],
        "RepoTypeEnum": [("model", "model"), ("dataset", "dataset")],
        "AuthTypeEnum": [("session", "session"), ("access_token", "access_token")],
    },
}

# Webhooks (webhooks app; see README "Webhooks"). Delivery to loopback, link-local, private-network
# and reserved addresses is refused unless allowed here (SSRF; multicast is refused always).
GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = env.bool("GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", default=False)
# HTTPS receivers are verified against the system's CAs, or this PEM bundle (an internal CA).
GATEHOUSE_WEBHOOK_CA_BUNDLE = env.str("GATEHOUSE_WEBHOOK_CA_BUNDLE", default=None)
GATEHOUSE_WEBHOOK_TIMEOUT = env.float("GATEHOUSE_WEBHOOK_TIMEOUT", default=10.0)
GATEHOUSE_WEBHOOK_MAX_ATTEMPTS = env.int("GATEHOUSE_WEBHOOK_MAX_ATTEMPTS", default=5)
GATEHOUSE_WEBHOOK_RETRY_BASE_SECONDS = env.float("GATEHOUSE_WEBHOOK_RETRY_BASE_SECONDS", default=10.0)
GATEHOUSE_WEBHOOK_MAX_PAYLOAD_BYTES = env.int("GATEHOUSE_WEBHOOK_MAX_PAYLOAD_BYTES", default=64 * 1024)
GATEHOUSE_WEBHOOK_DISABLE_AFTER = env.int("GATEHOUSE_WEBHOOK_DISABLE_AFTER", default=10)
GATEHOUSE_WEBHOOKS_PER_USER = env.int("GATEHOUSE_WEBHOOKS_PER_USER", default=100)
GATEHOUSE_WEBHOOK_LOG_DAYS = env.int("GATEHOUSE_WEBHOOK_LOG_DAYS", default=30)

# Upstream mirrors (mirror app; see README "Upstream mirrors"). A JSON list of upstream hubs:
# [{"name": "hf", "endpoint": "https://huggingface.co", "token_env": "HF_OPERATOR_TOKEN",
#   "namespaces": ["google"], "licenses_allow": [], "licenses_deny": ["cc-by-nc-4.0"],
#   "repos_allow": [], "repos_deny": ["google/secret-*"]}]
GATEHOUSE_UPSTREAMS = env.json("GATEHOUSE_UPSTREAMS", default=[])
# Comma-separated Fernet keys for users' upstream tokens (the first encrypts, all decrypt); unset:
# one generated into var/upstream_token_keys. Never SECRET_KEY.
GATEHOUSE_UPSTREAM_TOKEN_KEYS = env.list("GATEHOUSE_UPSTREAM_TOKEN_KEYS", default=[])
GATEHOUSE_MIRROR_METADATA_TTL = env.int("GATEHOUSE_MIRROR_METADATA_TTL", default=60)
GATEHOUSE_MIRROR_ACCESS_TTL = min(env.int("GATEHOUSE_MIRROR_ACCESS_TTL", default=300), 300)
GATEHOUSE_MIRROR_STALE_SECONDS = env.int("GATEHOUSE_MIRROR_STALE_SECONDS", default=7 * 86400)
GATEHOUSE_MIRROR_CONNECT_TIMEOUT = env.float("GATEHOUSE_MIRROR_CONNECT_TIMEOUT", default=5.0)
GATEHOUSE_MIRROR_READ_TIMEOUT = env.float("GATEHOUSE_MIRROR_READ_TIMEOUT", default=30.0)
GATEHOUSE_MIRROR_FOLLOW_SECONDS = env.float("GATEHOUSE_MIRROR_FOLLOW_SECONDS", default=60.0)
# Upstream fetches running in background threads at once, per web process (mirror/spool.py).
GATEHOUSE_MIRROR_FETCH_THREADS = env.int("GATEHOUSE_MIRROR_FETCH_THREADS", default=4)
GATEHOUSE_MIRROR_SCAN_RETRY_AFTER = env.int("GATEHOUSE_MIRROR_SCAN_RETRY_AFTER", default=5)
# Bytes of upstream content the mirror keeps; past them the least recently served objects are
# evicted (fetched again on next use). 0: unbounded, the default: the mirror's area shares the
# blob store with local repos, and only the operator knows how much of it the cache may take.
GATEHOUSE_MIRROR_MAX_BYTES = env.int("GATEHOUSE_MIRROR_MAX_BYTES", default=0)
GATEHOUSE_MIRROR_EVICT_INTERVAL = env.float("GATEHOUSE_MIRROR_EVICT_INTERVAL", default=300.0)
# Objects fetched or served within these seconds are never evicted: a bound smaller than what the
# mirror is asked for meanwhile is overshot for a while rather than have the same files fetched
# from the upstream again and again (one-byte ranges of two large files, alternately, did that).
GATEHOUSE_MIRROR_EVICT_MIN_AGE = env.float("GATEHOUSE_MIRROR_EVICT_MIN_AGE", default=600.0)

# Hosted previews (workers app). Time limits come first: the broker's visibility timeout must
# outlast the hard limit, or a long preview would be delivered to a second worker.
GATEHOUSE_PREVIEW_SOFT_TIME_LIMIT = env.int("GATEHOUSE_PREVIEW_SOFT_TIME_LIMIT", default=300)
GATEHOUSE_PREVIEW_HARD_TIME_LIMIT = env.int("GATEHOUSE_PREVIEW_HARD_TIME_LIMIT", default=360)
GATEHOUSE_PREVIEW_VISIBILITY_TIMEOUT = env.int(
    "GATEHOUSE_PREVIEW_VISIBILITY_TIMEOUT", default=GATEHOUSE_PREVIEW_HARD_TIME_LIMIT + 300
)
if GATEHOUSE_PREVIEW_VISIBILITY_TIMEOUT <= GATEHOUSE_PREVIEW_HARD_TIME_LIMIT:
    raise ValueError("GATEHOUSE_PREVIEW_VISIBILITY_TIMEOUT must be longer than GATEHOUSE_PREVIEW_HARD_TIME_LIMIT.")

# Celery: Redis when REDIS_URL is set; otherwise a filesystem broker under var/ so that a local
# worker runs with no extra services. It is core/fsbroker.py (`gatehouse-fs://`, registered in
# config/celery.py): kombu's own `filesystem://` lets a worker read a message before it is written
# and die of it, so that scheme is taken to mean ours too.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "gatehouse-fs://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_URL = "gatehouse-fs://" + CELERY_BROKER_URL.removeprefix("filesystem://")
if CELERY_BROKER_URL.startswith("gatehouse-fs://"):
    _queue_dir = VAR_DIR / "celery-queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        # kombu's default is ./control in the working directory.
        "control_folder": str(VAR_DIR / "celery-control"),
        # The worker polls the folder; kombu's default of 1 s would add up to a second per preview.
        "polling_interval": env.float("CELERY_BROKER_POLLING_INTERVAL", default=0.1),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": GATEHOUSE_PREVIEW_VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": GATEHOUSE_PREVIEW_VISIBILITY_TIMEOUT}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Recycling a child evicts its pipeline cache, so this is off unless the operator sets it (KiB).
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", default=0) or None
# Children import torch when they start (workers/tasks.py); give them time before the parent gives up.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env.float("CELERY_WORKER_PROC_ALIVE_TIMEOUT", default=120.0)
CELERY_TASK_ROUTES = {"workers.tasks.preview_run_task": {"queue": "gpu"}}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat records its ticks and sends a heartbeat the workers answer; the readiness check reads both
# (core.heartbeat). Stale means older than GATEHOUSE_HEARTBEAT_STALE_AFTER seconds.
CELERY_BEAT_SCHEDULER = "core.heartbeat:Scheduler"
GATEHOUSE_HEARTBEAT_INTERVAL = env.float("GATEHOUSE_HEARTBEAT_INTERVAL", default=30.0)
GATEHOUSE_HEARTBEAT_STALE_AFTER = env.float("GATEHOUSE_HEARTBEAT_STALE_AFTER", default=3 * GATEHOUSE_HEARTBEAT_INTERVAL)
# /readyz runs its checks at most this often per web process (anyone may call it).
GATEHOUSE_READYZ_CACHE_SECONDS = env.float("GATEHOUSE_READYZ_CACHE_SECONDS", default=1.0)
CELERY_BEAT_SCHEDULE: dict = {
    "heartbeat": {
        "task": "core.tasks.heartbeat_task",
        "schedule": GATEHOUSE_HEARTBEAT_INTERVAL,
        "options": {"expires": GATEHOUSE_HEARTBEAT_INTERVAL},  # a backlog is measured, not replayed
    },
    "release-stages": {
        "task": "gating.tasks.release_stages_apply_task",
        "schedule": env.float("GATEHOUSE_RELEASE_APPLY_INTERVAL", default=60.0),
    },
    "grant-expiry": {"task": "gating.tasks.access_grants_expire_task", "schedule": 300.0},
    "access-digest": {"task": "gating.tasks.access_request_digest_task", "schedule": 3600.0},
    "webhook-requeue": {"task": "webhooks.tasks.webhook_deliveries_requeue_task", "schedule": 60.0},
}

# Gatehouse itself.
GATEHOUSE_STORAGE_ROOT = Path(env.str("GATEHOUSE_STORAGE_ROOT", default=str(VAR_DIR / "storage")))
# Object storage: "" keeps blobs on the local disk under GATEHOUSE_STORAGE_ROOT; "s3://bucket/prefix"
# puts them in an S3-compatible store (credentials, region and endpoint from the standard AWS_*
# variables, AWS_ENDPOINT_URL included) and leaves only scratch files under the storage root.
GATEHOUSE_STORAGE_URL = env.str("GATEHOUSE_STORAGE_URL", default="")
# "auto": path-style when the endpoint is an IP address or localhost, else the client's default.
GATEHOUSE_S3_ADDRESSING_STYLE = env.str("GATEHOUSE_S3_ADDRESSING_STYLE", default="auto")
# Where clients reach the store, when not where the server does (signed URLs are made for it).
GATEHOUSE_S3_PUBLIC_ENDPOINT_URL = env.str("GATEHOUSE_S3_PUBLIC_ENDPOINT_URL", default="")
# Per request to the store; attempts count the first. A store that accepts connections and never
# answers holds a request at most attempts x (connect + read timeout) plus botocore's backoff
# (under 1 s with 2 attempts): 25 s with these defaults, 9 s for the HEAD of an object that every
# download makes first (huggingface_hub gives its /resolve HEAD 10 s).
GATEHOUSE_S3_CONNECT_TIMEOUT = env.float("GATEHOUSE_S3_CONNECT_TIMEOUT", default=2.0)
GATEHOUSE_S3_READ_TIMEOUT = env.float("GATEHOUSE_S3_READ_TIMEOUT", default=10.0)
GATEHOUSE_S3_HEAD_READ_TIMEOUT = env.float("GATEHOUSE_S3_HEAD_READ_TIMEOUT", default=2.0)
GATEHOUSE_S3_MAX_ATTEMPTS = env.int("GATEHOUSE_S3_MAX_ATTEMPTS", default=2)
if GATEHOUSE_S3_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured("GATEHOUSE_S3_MAX_ATTEMPTS counts the first attempt: at least 1.")
# Seconds a signed download URL (the redirect of GET /resolve) stays valid; at most 300.
GATEHOUSE_DOWNLOAD_URL_TTL = env.int("GATEHOUSE_DOWNLOAD_URL_TTL", default=300)
if not 1 <= GATEHOUSE_DOWNLOAD_URL_TTL <= 300:
    raise ImproperlyConfigured("GATEHOUSE_DOWNLOAD_URL_TTL must be between 1 and 300 seconds.")
GATEHOUSE_TREE_PAGE_SIZE = env.int("GATEHOUSE_TREE_PAGE_SIZE", default=1000)
GATEHOUSE_COMMITS_PAGE_SIZE = env.int("GATEHOUSE_COMMITS_PAGE_SIZE", default=50)
GATEHOUSE_LIST_PAGE_SIZE = env.int("GATEHOUSE_LIST_PAGE_SIZE", default=100)
# Rows per page of the portal's long pages: a folder's files, the access-request queue, a thread's comments.
GATEHOUSE_PORTAL_PAGE_SIZE = env.int("GATEHOUSE_PORTAL_PAGE_SIZE", default=100)

# Previews: the operator's safety checker (a local folder; previews are refused without one),
# blocked prompt concepts ("category: term, term; category: term"), the minimum Safe Latent
# Diffusion preset, parameter bounds, rate limits and queue caps, and worker leases.
# `manage.py install_safety_checker` installs into GATEHOUSE_SAFETY_CHECKER_INSTALL_DIR (with its record,
# installed.json), which is the checker when GATEHOUSE_SAFETY_CHECKER_PATH is not set.
GATEHOUSE_SAFETY_CHECKER_INSTALL_DIR = VAR_DIR / "safety-checker"
GATEHOUSE_SAFETY_CHECKER_PATH = env.str(
    "GATEHOUSE_SAFETY_CHECKER_PATH",
    default=str(GATEHOUSE_SAFETY_CHECKER_INSTALL_DIR)
    if (GATEHOUSE_SAFETY_CHECKER_INSTALL_DIR / "installed.json").is_file()
    else "",
)
GATEHOUSE_PREVIEW_BLOCKED_CONCEPTS = env.str("GATEHOUSE_PREVIEW_BLOCKED_CONCEPTS", default="")
GATEHOUSE_PREVIEW_BLOCKED_CONCEPTS_FILE = env.str("GATEHOUSE_PREVIEW_BLOCKED_CONCEPTS_FILE", default="")
GATEHOUSE_PREVIEW_SLD_MINIMUM = env.str("GATEHOUSE_PREVIEW_SLD_MINIMUM", default="weak")
GATEHOUSE_PREVIEW_SAFETY_CONCEPT = env.str("GATEHOUSE_PREVIEW_SAFETY_CONCEPT", default="")
GATEHOUSE_PREVIEW_MEDIA_ROOT = Path(env.str("GATEHOUSE_PREVIEW_MEDIA_ROOT", default=str(VAR_DIR / "previews")))
GATEHOUSE_PREVIEW_MODEL_CACHE = Path(env.str("GATEHOUSE_PREVIEW_MODEL_CACHE", default=str(VAR_DIR / "preview-models")))
GATEHOUSE_PREVIEW_DEVICE = env.str("GATEHOUSE_PREVIEW_DEVICE", default="auto")
GATEHOUSE_PREVIEW_PIPELINE_CACHE_BYTES = env.int("GATEHOUSE_PREVIEW_PIPELINE_CACHE_BYTES", default=0)
GATEHOUSE_PREVIEW_CPU_THREADS = env.int("GATEHOUSE_PREVIEW_CPU_THREADS", default=0)
GATEHOUSE_PREVIEW_MAX_MODEL_BYTES = env.int("GATEHOUSE_PREVIEW_MAX_MODEL_BYTES", default=16 * 1024**3)
GATEHOUSE_PREVIEW_MAX_PROMPT_CHARS = env.int("GATEHOUSE_PREVIEW_MAX_PROMPT_CHARS", default=500)
GATEHOUSE_PREVIEW_MAX_STEPS = env.int("GATEHOUSE_PREVIEW_MAX_STEPS", default=50)
GATEHOUSE_PREVIEW_MAX_SIDE = env.int("GATEHOUSE_PREVIEW_MAX_SIDE", default=768)
GATEHOUSE_PREVIEW_MAX_BATCH = env.int("GATEHOUSE_PREVIEW_MAX_BATCH", default=4)
GATEHOUSE_PREVIEW_RATE_WINDOW = env.int("GATEHOUSE_PREVIEW_RATE_WINDOW", default=3600)
GATEHOUSE_PREVIEW_USER_RATE = env.int("GATEHOUSE_PREVIEW_USER_RATE", default=60)
GATEHOUSE_PREVIEW_REPO_RATE = env.int("GATEHOUSE_PREVIEW_REPO_RATE", default=600)
GATEHOUSE_PREVIEW_USER_QUEUE = env.int("GATEHOUSE_PREVIEW_USER_QUEUE", default=4)
GATEHOUSE_PREVIEW_REPO_QUEUE = env.int("GATEHOUSE_PREVIEW_REPO_QUEUE", default=40)
GATEHOUSE_PREVIEW_QUEUE_MAX = env.int("GATEHOUSE_PREVIEW_QUEUE_MAX", default=500)
GATEHOUSE_PREVIEW_LEASE_SECONDS = env.int("GATEHOUSE_PREVIEW_LEASE_SECONDS", default=90)
GATEHOUSE_PREVIEW_MAX_ATTEMPTS = env.int("GATEHOUSE_PREVIEW_MAX_ATTEMPTS", default=3)
GATEHOUSE_PREVIEW_REAP_INTERVAL = env.float("GATEHOUSE_PREVIEW_REAP_INTERVAL", default=30.0)
GATEHOUSE_PREVIEW_REQUEUE_AFTER = env.int(
    "GATEHOUSE_PREVIEW_REQUEUE_AFTER", default=GATEHOUSE_PREVIEW_VISIBILITY_TIMEOUT
)
GATEHOUSE_PREVIEW_EXPIRES = env.int("GATEHOUSE_PREVIEW_EXPIRES", default=1800)
CELERY_BEAT_SCHEDULE["preview-reap"] = {
    "task": "workers.tasks.preview_reap_task",
    "schedule": GATEHOUSE_PREVIEW_REAP_INTERVAL,
}

# Every handler redacts signed URLs' `sig=` values (core/logredact.py); `django.server` (the
# request lines of `runserver`) is Django's default handler and format, with that filter added.
# Every line carries the request id (X-Request-Id; `-` outside requests); GATEHOUSE_LOG_FORMAT=json
# writes one JSON object a line instead (core/logctx.py).
GATEHOUSE_LOG_FORMAT = env.str("GATEHOUSE_LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_signatures": {"()": "core.logredact.RedactSignatures"},
        "request_id": {"()": "core.logctx.RequestIdFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "core.logctx.JsonFormatter"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if GATEHOUSE_LOG_FORMAT == "json" else "plain",
            "filters": ["request_id", "redact_signatures"],
        },
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_signatures"],
        },
    },
    "loggers": {
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        # dulwich (githttp) logs every negotiation at INFO.
        "dulwich": {"level": "WARNING"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# The public base URL (e.g. https://hub.example.org), used in messages that name a page, such as
# where to ask for access. Empty: paths are given relative to the host the client called.
GATEHOUSE_PUBLIC_URL = env.str("GATEHOUSE_PUBLIC_URL", default="").rstrip("/")

# Upload limits (bytes unless stated); refused up front with a clear message.
GATEHOUSE_MAX_FILE_SIZE = env.int("GATEHOUSE_MAX_FILE_SIZE", default=50 * 1024**3)
GATEHOUSE_MAX_COMMIT_SIZE = env.int("GATEHOUSE_MAX_COMMIT_SIZE", default=200 * 1024**3)
GATEHOUSE_MAX_COMMIT_FILES = env.int("GATEHOUSE_MAX_COMMIT_FILES", default=10_000)
# Text files up to this size are uploaded inline ("regular"); larger ones, binary content and paths
# an LFS rule of the repo's .gitattributes matches go through LFS/Xet: the Hub's rules and threshold.
GATEHOUSE_REGULAR_UPLOAD_MAX_BYTES = env.int("GATEHOUSE_REGULAR_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
# Largest file accepted inline (base64) in a commit body.
GATEHOUSE_MAX_INLINE_FILE = env.int("GATEHOUSE_MAX_INLINE_FILE", default=16 * 1024 * 1024)
# Largest commit body (the ndjson lines, inline files in base64): 413 before a byte is read.
GATEHOUSE_MAX_COMMIT_BODY = env.int("GATEHOUSE_MAX_COMMIT_BODY", default=2 * 1024**3)
GATEHOUSE_LFS_MULTIPART_THRESHOLD = env.int("GATEHOUSE_LFS_MULTIPART_THRESHOLD", default=2 * 1024**3)
GATEHOUSE_LFS_CHUNK_SIZE = env.int("GATEHOUSE_LFS_CHUNK_SIZE", default=512 * 1024**2)
GATEHOUSE_UPLOAD_URL_TTL = env.int("GATEHOUSE_UPLOAD_URL_TTL", default=3600)
# A deleted repo is kept this long (invisible, its name reserved, restorable by its owner or an
# operator), then purged by the beat; its content goes at the next garbage collection after that.
GATEHOUSE_REPO_DELETE_GRACE_DAYS = env.int("GATEHOUSE_REPO_DELETE_GRACE_DAYS", default=30)
CELERY_BEAT_SCHEDULE["repos-purge-deleted"] = {
    "task": "registry.tasks.repos_purge_deleted_task",
    "schedule": 3600.0,
}
# Prometheus metrics at /metrics (core/metrics.py): served to a scraper that sends
# `Authorization: Bearer <GATEHOUSE_METRICS_TOKEN>` (when set) or calls from one of these networks
# (not through an undeclared proxy). Under gunicorn, PROMETHEUS_MULTIPROC_DIR (config/gunicorn.conf.py).
GATEHOUSE_METRICS_TOKEN = env.str("GATEHOUSE_METRICS_TOKEN", default="")
GATEHOUSE_METRICS_ALLOW_FROM = env.list("GATEHOUSE_METRICS_ALLOW_FROM", default=["127.0.0.0/8", "::1/128"])
for _network in GATEHOUSE_METRICS_ALLOW_FROM:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"GATEHOUSE_METRICS_ALLOW_FROM: {_network!r} is not a network or address.") from None
# The outbox (core/outbox.py): notification tasks are rows written with the change they report, and
# the beat publishes again, every GATEHOUSE_OUTBOX_RELAY_INTERVAL seconds, those not done
# GATEHOUSE_OUTBOX_RETRY_AFTER seconds after their last publish (a Redis restart empties its
# queues). A worker's claim lasts GATEHOUSE_OUTBOX_LEASE_SECONDS; a task that failed
# GATEHOUSE_OUTBOX_MAX_RUNS times is abandoned (logged); done rows are kept GATEHOUSE_OUTBOX_KEEP_DAYS.
GATEHOUSE_OUTBOX_RETRY_AFTER = env.int("GATEHOUSE_OUTBOX_RETRY_AFTER", default=120)
GATEHOUSE_OUTBOX_RELAY_INTERVAL = env.float("GATEHOUSE_OUTBOX_RELAY_INTERVAL", default=30.0)
GATEHOUSE_OUTBOX_LEASE_SECONDS = env.int("GATEHOUSE_OUTBOX_LEASE_SECONDS", default=300)
GATEHOUSE_OUTBOX_MAX_RUNS = env.int("GATEHOUSE_OUTBOX_MAX_RUNS", default=5)
GATEHOUSE_OUTBOX_KEEP_DAYS = env.int("GATEHOUSE_OUTBOX_KEEP_DAYS", default=7)
CELERY_BEAT_SCHEDULE["outbox-relay"] = {
    "task": "core.tasks.outbox_relay_task",
    "schedule": GATEHOUSE_OUTBOX_RELAY_INTERVAL,
}
# Download counts are tallied in each web process and written as one UPDATE per repo this often
# (registry.services.downloads): a process killed outright loses at most this many seconds of
# counts; a clean stop loses none. 0 writes each download in its request, as the tests do.
GATEHOUSE_DOWNLOAD_COUNT_FLUSH_SECONDS = env.float("GATEHOUSE_DOWNLOAD_COUNT_FLUSH_SECONDS", default=5.0)
# Memory each web process may spend on its cache of stored trees (registry/git/trees.py; trees are
# immutable, so a hit saves a query on every path lookup), and a quarter of this more on the LFS
# path index of trees. Bounded in bytes, not trees, so a process's memory levels off.
GATEHOUSE_TREE_CACHE_BYTES = env.int("GATEHOUSE_TREE_CACHE_BYTES", default=16 * 1024**2)
# Celery workers write their metrics here (core/taskmetrics.py; emptied when a worker starts) and
# the web's /metrics adds them to its own. Empty: workers keep their metrics to themselves.
GATEHOUSE_WORKER_METRICS_DIR = env.str("GATEHOUSE_WORKER_METRICS_DIR", default=str(VAR_DIR / "metrics-worker"))
# Fault-injection tests only: named crash points to arm (core/faults.py); `check --deploy` fails if set.
GATEHOUSE_FAULTPOINTS = env.str("GATEHOUSE_FAULTPOINTS", default="")
GATEHOUSE_FAULTPOINTS_STATE = env.str("GATEHOUSE_FAULTPOINTS_STATE", default="")
# Unreferenced blobs younger than this are kept by the garbage collector (uploads in flight).
GATEHOUSE_GC_GRACE_SECONDS = env.int("GATEHOUSE_GC_GRACE_SECONDS", default=24 * 3600)
# Pickle scans still queued after this many seconds (a worker that was down, a lost task) are sent
# again by the beat, at most GATEHOUSE_SCAN_MAX_ATTEMPTS sends in all; then they are recorded as
# `error`. Keep it longer than a scan may run (5 minutes) plus the usual queue wait.
GATEHOUSE_SCAN_RETRY_AFTER = env.int("GATEHOUSE_SCAN_RETRY_AFTER", default=15 * 60)
GATEHOUSE_SCAN_MAX_ATTEMPTS = env.int("GATEHOUSE_SCAN_MAX_ATTEMPTS", default=3)
CELERY_BEAT_SCHEDULE["scan-requeue"] = {
    "task": "registry.tasks.scans_requeue_task",
    "schedule": float(min(GATEHOUSE_SCAN_RETRY_AFTER, 300)),
}
# The mirror's bound (GATEHOUSE_MIRROR_MAX_BYTES, above); the task does nothing while it is 0.
CELERY_BEAT_SCHEDULE["mirror-evict"] = {
    "task": "mirror.tasks.mirror_evict_task",
    "schedule": GATEHOUSE_MIRROR_EVICT_INTERVAL,
    "options": {"expires": GATEHOUSE_MIRROR_EVICT_INTERVAL},  # a backlog would only repeat itself
}

# Xet storage protocol (default huggingface_hub clients with hf_xet).
# CAS base URL given to clients; empty: "/cas" on the host the client called.
GATEHOUSE_XET_CAS_URL = env.str("GATEHOUSE_XET_CAS_URL", default="").rstrip("/")
# Lifetime of Xet access tokens (the client refreshes them 30-60 s before they expire).
GATEHOUSE_XET_TOKEN_TTL = env.int("GATEHOUSE_XET_TOKEN_TTL", default=1800)
# Per-process caches of the hot path's lookups (anonymous and signed-in download lookups, tokens
# and their accounts, roles, grants), invalidated by PostgreSQL notifications (core.lookup_cache);
# PostgreSQL only.
GATEHOUSE_LOOKUP_CACHE = env.bool("GATEHOUSE_LOOKUP_CACHE", default=True)
# Lifetime of the signed xorb byte-range URLs in reconstruction answers.
GATEHOUSE_XET_FETCH_URL_TTL = env.int("GATEHOUSE_XET_FETCH_URL_TTL", default=300)
# The revocation model (README, Security model): a signed byte URL outlives a revocation by at most this.
if not 1 <= GATEHOUSE_XET_FETCH_URL_TTL <= 300:
    raise ImproperlyConfigured("GATEHOUSE_XET_FETCH_URL_TTL must be between 1 and 300 seconds.")
# Bytes a contributor without write access may send to pull requests per day, however sent (Xet
# xorbs and shards, inline files of the commit endpoint, the portal's pull request form); one quota.
GATEHOUSE_XET_CONTRIBUTOR_BYTES_PER_DAY = env.int("GATEHOUSE_XET_CONTRIBUTOR_BYTES_PER_DAY", default=100 * 1024**3)

# Community: discussions and pull requests.
GATEHOUSE_DISCUSSIONS_PAGE_SIZE = env.int("GATEHOUSE_DISCUSSIONS_PAGE_SIZE", default=50)
# Posts (new threads, comments, edits, renames, reports) per user per window; refused with 429.
GATEHOUSE_COMMUNITY_POSTS_PER_WINDOW = env.int("GATEHOUSE_COMMUNITY_POSTS_PER_WINDOW", default=30)
GATEHOUSE_COMMUNITY_WINDOW_SECONDS = env.int("GATEHOUSE_COMMUNITY_WINDOW_SECONDS", default=300)
# Pull-request diffs stop (with a note) past this many bytes; larger text files are summarised.
GATEHOUSE_PR_DIFF_MAX_BYTES = env.int("GATEHOUSE_PR_DIFF_MAX_BYTES", default=2 * 1024 * 1024)
GATEHOUSE_PR_DIFF_MAX_FILE_BYTES = env.int("GATEHOUSE_PR_DIFF_MAX_FILE_BYTES", default=512 * 1024)
# difflib is quadratic on some inputs (20,000 interleaved lines: 17 s): a file with more lines on
# either side is summarised, and files left when a diff has used this much CPU are listed, not
# diffed (file diffs are cached, so the next request goes on from there).
GATEHOUSE_PR_DIFF_MAX_FILE_LINES = env.int("GATEHOUSE_PR_DIFF_MAX_FILE_LINES", default=10_000)
GATEHOUSE_PR_DIFF_BUDGET_S = env.float("GATEHOUSE_PR_DIFF_BUDGET_S", default=1.0)
# Markdown (cards, comments) past this size is cut, and a render past this CPU time is shown as
# plain text; rendered cards are cached by (repo, README blob).
GATEHOUSE_MARKDOWN_MAX_BYTES = env.int("GATEHOUSE_MARKDOWN_MAX_BYTES", default=256 * 1024)
GATEHOUSE_MARKDOWN_BUDGET_S = env.float("GATEHOUSE_MARKDOWN_BUDGET_S", default=1.0)
GATEHOUSE_RENDER_CACHE_SECONDS = env.int("GATEHOUSE_RENDER_CACHE_SECONDS", default=7 * 24 * 3600)
