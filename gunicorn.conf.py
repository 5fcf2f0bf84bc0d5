"""gunicorn's configuration, read by gunicorn from the working directory (the Dockerfile's CMD and
docker-compose's web service run it in /app). The command line sets the rest (bind, workers from
WEB_CONCURRENCY, logs).

Only the bookkeeping of prometheus-client's multiprocess mode lives here, and only when
PROMETHEUS_MULTIPROC_DIR is set (see ciie_portal/metrics.py): each worker process writes its
metrics to files in that directory and whichever worker answers /metrics adds them all up.

- ``on_starting``: the master empties the directory before the first worker starts, so that
  counters of an earlier run (whose process ids a new worker may reuse) are not added in;
- ``child_exit``: a worker that ended (recycled, killed) has its live gauges removed; its
  counters stay, so totals never go down.

The master never imports the application; prometheus-client is imported only in ``child_exit``.
Without the variable, nothing changes.
"""

import os

# Read once: gunicorn's own settings are this module's names, so only underscored ones here.
_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def on_starting(server):
    if _DIR:
        os.makedirs(_DIR, exist_ok=True)
        for name in os.listdir(_DIR):
            if name.endswith(".db"):
                os.remove(os.path.join(_DIR, name))


def child_exit(server, worker):
    if _DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, _DIR)
