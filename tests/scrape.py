"""Reading /metrics in tests: a scrape as {(sample name, labels): value}."""

from prometheus_client.parser import text_string_to_metric_families


def parse(text: str) -> dict:
    """{(sample name, ((label, value), ...)): value} of a scrape."""
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return values


def scrape(client) -> dict:
    """/metrics read from an allowed address."""
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return parse(response.content.decode())


def value(scraped: dict, name: str, **labels) -> float:
    """A sample's value (0 when the scrape has none)."""
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)
