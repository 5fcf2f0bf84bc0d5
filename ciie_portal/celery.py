import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciie_portal.settings")

app = Celery("ciie_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Prometheus metrics of the tasks (ciie_portal.metrics): counts by task and state, durations; a
# worker started with METRICS_PORT serves them (with PROMETHEUS_MULTIPROC_DIR for a prefork
# pool: the pool's processes write there, the worker's main process reads it all).
def _metrics(name):
    def handler(**kwargs):
        from . import metrics

        getattr(metrics, name)(**kwargs)

    return handler


signals.task_prerun.connect(_metrics("task_started"), weak=False)
signals.task_postrun.connect(_metrics("task_finished"), weak=False)
signals.task_failure.connect(_metrics("task_killed"), weak=False)
signals.task_revoked.connect(_metrics("task_revoked"), weak=False)
signals.worker_init.connect(_metrics("worker_metrics_serve"), weak=False)
