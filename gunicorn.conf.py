"""gunicorn for `make serve` (and the systemd unit / Compose service in docs/deploy.md).

Environment: MILEPOST_BIND (default 127.0.0.1:$MILEPOST_PORT, port 8000), WEB_CONCURRENCY
(workers; default 2 × CPUs + 1), GUNICORN_TIMEOUT (seconds, default 30), FORWARDED_ALLOW_IPS
(the reverse proxy's address, default 127.0.0.1), LOG_FORMAT (plain or json).
"""

import multiprocessing
import os

from prometheus_client import multiprocess

wsgi_app = "config.wsgi:application"
bind = os.environ.get("MILEPOST_BIND") or f"127.0.0.1:{os.environ.get('MILEPOST_PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
# A request that takes longer than this is killed and its worker replaced; boards and reports
# answer well inside it (see `make bench`).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30  # on SIGTERM, requests in flight get this long to finish
keepalive = 5  # behind a proxy that reuses connections
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
control_socket_disable = True  # managed by honcho or systemd, not at runtime
# Worker heartbeats on tmpfs: a container's overlay file system can stall them.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# One line per request, with the request id the app echoes in X-Request-ID.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms req=%({x-request-id}o)s "%(a)s"'
if os.environ.get("LOG_FORMAT") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "tracker.ops.logs.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }


def child_exit(server, worker):
    """A dead worker's gauges leave the metrics; its counters keep adding up."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
