"""Gunicorn settings for Tipline: `gunicorn -c deploy/gunicorn.conf.py 'tipline:create_app()'`.

Every setting can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""

import multiprocessing
import os

# Behind nginx on the same host; nginx terminates TLS and is the only client.
bind = os.environ.get("TIPLINE_BIND", "127.0.0.1:8000")

# Sync workers: every request is short (no request waits on e-mail; that is the task queue's
# job), so (2 x cores) + 1 processes keep the CPUs busy. Threads would share the SQLite write lock.
workers = int(os.environ.get("TIPLINE_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# Every database and Redis wait is bounded well below this (config.py, DATABASE_*_TIMEOUT),
# so a request meets a 503 page with its text before gunicorn would kill the worker.
timeout = 30
graceful_timeout = 20
keepalive = 5

# Recycle a worker only after half a million requests (jitter keeps the workers from
# restarting together), as a net for a slow leak: the memory benchmark measures none
# (tests/bench/bench_memory.py, recycling off). Every 5,000, as before, a recycle stalled
# requests about 300 ms and cost the notice page 0.55 of its throughput without recycling
# (wrk, docs/performance.md); at 500,000 it costs nothing measurable.
max_requests = 500_000
max_requests_jitter = 50_000

# Heartbeat files in memory, not on a disk that may stall under load (gunicorn's advice).
_SHM = "/dev/shm"  # noqa: S108 - heartbeat files only, no data
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None

# Each worker loads the app itself (no preload_app): then `systemctl reload tipline` (SIGHUP)
# starts new workers on the new code while the master keeps the listening socket, and the old
# workers finish their requests (graceful_timeout) before they exit. Nothing is refused
# during a deploy. A preloaded master would fork the old code on HUP (docs/operations.md).
preload_app = False

# The access log never carries the client's address, user agent or referrer (DESIGN.md:
# nothing identifies a public visitor). Method, path, status, size and time only.
accesslog = "-"
access_log_format = '"%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = "info"

# nginx passes the client address in X-Forwarded-For only so the rate limiter can hash it;
# trust that header from the local proxy alone.
forwarded_allow_ips = "127.0.0.1"
proxy_allow_ips = "127.0.0.1"

# Uploads are bounded by the app (MAX_CONTENT_LENGTH) and by nginx (client_max_body_size).
limit_request_line = 8190
