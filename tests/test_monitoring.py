"""docker-compose.yml's monitoring profile and its files (deploy/monitoring/), read since Docker
cannot run here: Prometheus scrapes what the services serve, Grafana is provisioned with the
dashboard, and every metric the dashboard queries is one the portal exports."""

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ciie_portal import metrics

ROOT = Path(__file__).resolve().parents[1]
MONITORING = ROOT / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "ciie-portal.json"
# Words of PromQL that look like names: functions, aggregations, keywords.
PROMQL_WORDS = {
    "sum",
    "max",
    "min",
    "count",
    "rate",
    "topk",
    "histogram_quantile",
    "by",
    "vector",
    "or",
    "le",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def prometheus() -> dict:
    return yaml.safe_load((MONITORING / "prometheus.yml").read_text())


def _mounts(service: dict) -> dict:
    """{container path: host path (relative to the repository)} of a service's bind mounts."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            found[target] = ROOT / source[2:]
    return found


def test_the_monitoring_profile_adds_prometheus_and_grafana_only(compose):
    services = compose["services"]
    profiled = {name for name, service in services.items() if service.get("profiles")}
    assert profiled == {"prometheus", "grafana"}
    for name in profiled:
        assert services[name]["profiles"] == ["monitoring"]
        # Pinned images, reachable from this host's loopback only.
        image = services[name]["image"]
        assert re.fullmatch(r"[a-z/]+:v?\d+\.\d+\.\d+", image), image
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"])
    for name, service in services.items():
        assert set(service.get("depends_on", [])) <= set(services), name


def test_every_file_the_services_mount_exists(compose):
    for name in ("prometheus", "grafana"):
        for target, source in _mounts(compose["services"][name]).items():
            assert source.exists(), (name, target, source)


def test_prometheus_scrapes_what_the_services_serve(compose, prometheus):
    services = compose["services"]
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    web = jobs["ciie-web"]
    assert web["metrics_path"] == "/metrics"
    assert web["static_configs"][0]["targets"] == ["web:8000"]
    # Host "web" must be accepted by Django; the token reaches Prometheus as a secret.
    assert services["web"]["environment"]["ALLOWED_HOSTS"].endswith(",web")
    token_file = web["authorization"]["credentials_file"]
    assert token_file == "/run/secrets/metrics_token"
    assert "metrics_token" in services["prometheus"]["secrets"]
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    assert services["web"]["environment"]["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"

    workers = jobs["ciie-worker"]["static_configs"][0]["targets"]
    for target in workers:
        name, port = target.split(":")
        environment = services[name]["environment"]
        assert environment["METRICS_PORT"] == port, name
        # A prefork pool's processes meet in a directory emptied at every start (tmpfs).
        assert environment["PROMETHEUS_MULTIPROC_DIR"] in services[name]["tmpfs"], name
    web_environment = services["web"]["environment"]
    assert web_environment["PROMETHEUS_MULTIPROC_DIR"] in services["web"]["tmpfs"]
    assert {target.split(":")[0] for target in workers} == {"worker", "worker-batch"}


def test_the_web_health_check_asks_readiness(compose):
    check = "\n".join(compose["services"]["web"]["healthcheck"]["test"])
    assert "/readyz" in check
    assert "/healthz" not in check


def test_gunicorn_reads_its_configuration_from_the_working_directory():
    """The image's CMD and the web service run gunicorn in /app, where gunicorn.conf.py is."""
    assert (ROOT / "gunicorn.conf.py").exists()
    assert "gunicorn.conf.py" not in (ROOT / ".dockerignore").read_text()


def test_grafana_is_provisioned_with_the_prometheus_data_source_and_the_dashboard(compose):
    grafana = _mounts(compose["services"]["grafana"])
    provisioning = grafana["/etc/grafana/provisioning"]
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "ciie.yml").read_text())["providers"]
    folder = provider["options"]["path"]
    assert grafana[folder] == DASHBOARD.parent
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == source["uid"], panel["title"]


def _exported(scraped: str) -> set[str]:
    """Every series name a scrape can hold: counters' _total, histograms' _bucket/_sum/_count
    (whether or not they were observed yet)."""
    names = set()
    for family in text_string_to_metric_families(scraped):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


def _queried(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    without_groups = re.sub(r"\bby\s*\([^)]*\)", "", without_ranges)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_groups))
    return names - PROMQL_WORDS


def test_every_metric_the_dashboard_queries_is_exported(db):
    """The web's /metrics (with the figures) and the workers' (without) are the same
    registry's metrics; the collector is run as a scrape runs it."""
    exported = _exported(metrics.exposition().decode())
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            for name in _queried(target["expr"]):
                queried.setdefault(name, panel["title"])
    assert queried, "the dashboard queries nothing"
    unknown = {name: title for name, title in queried.items() if name not in exported}
    assert not unknown, unknown
    # The dashboard watches the rush: submissions, the notice backlog, flagged payments.
    for name in ("ciie_submissions_per_minute", "ciie_notices", "ciie_payments_flagged"):
        assert name in queried
