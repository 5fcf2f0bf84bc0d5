"""gunicorn's configuration, read by gunicorn from the working directory (the Dockerfile's CMD and
docker-compose's web service run it in /app). The command line sets the rest (bind, workers from
WEB_CONCURRENCY, logs).

Two things live here. First, the bookkeeping of prometheus-client's multiprocess mode, only when
PROMETHEUS_MULTIPROC_DIR is set (see ciie_portal/metrics.py): each worker process writes its
metrics to files in that directory and whichever worker answers /metrics adds them all up.

- ``on_starting``: the master empties the directory before the first worker starts, so that
  counters of an earlier run (whose process ids a new worker may reuse) are not added in;
- ``child_exit``: a worker that ended (recycled, killed) has its live gauges removed; its
  counters stay, so totals never go down.

Then the garbage collector of each worker:

- ``post_worker_init``: once a worker has loaded the application, the objects loaded so far
  (modules, settings, the URLconf) are moved out of the garbage collector's sight
  (``gc.freeze()``) and a collection runs after 50,000 new objects rather than 700: the
  collector no longer walks the whole application at every full pass, and a request seldom
  pays for one (``benchmarks/rush.py``: about 4 % of a registration journey's CPU). Reference
  counting frees almost everything at once anyway; cycles are still collected. GC_FREEZE=false
  leaves Python's defaults.

The master never imports the application; prometheus-client is imported only in ``child_exit``,
and only with PROMETHEUS_MULTIPROC_DIR set.
"""

import gc
import os

# Read once: gunicorn's own settings are this module's names, so only underscored ones here.
_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def on_starting(server):
    if _DIR:
        os.makedirs(_DIR, exist_ok=True)
        for name in os.listdir(_DIR):
            if name.endswith(".db"):
                os.remove(os.path.join(_DIR, name))


# Objects allocated (less those freed) between two collections of the youngest generation.
_GC_THRESHOLD = 50_000


def post_worker_init(worker):
    if os.environ.get("GC_FREEZE", "true").lower() not in ("0", "false", "no", "off"):
        gc.collect()
        gc.freeze()
        gc.set_threshold(_GC_THRESHOLD, 20, 100)


def child_exit(server, worker):
    if _DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, _DIR)
