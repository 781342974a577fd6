"""Reading a ``/metrics`` page the way Prometheus does: with prometheus_client's own parser,
so a test checks the format a scraper reads, not a string the server happens to print."""
from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """The samples of one scrape: ``value(name, **labels)`` sums the samples of that name
    whose labels include ``labels`` (0 when none); ``text`` is the page as served."""

    def __init__(self, text: str):
        self.text = text
        self.samples = [(s.name, s.labels, s.value)
                        for family in text_string_to_metric_families(text)
                        for s in family.samples]

    def value(self, name: str, **labels: str) -> float:
        return sum(v for n, got, v in self.samples
                   if n == name and all(got.get(k) == w for k, w in labels.items()))

    def labels(self, name: str, label: str) -> set[str]:
        """Every value ``label`` takes among the samples of ``name``."""
        return {got[label] for n, got, _ in self.samples if n == name and label in got}

    def __sub__(self, before: Scrape) -> Delta:
        return Delta(self, before)


class Delta:
    """What changed between two scrapes (counters, histogram counts and sums)."""

    def __init__(self, after: Scrape, before: Scrape):
        self.after, self.before = after, before

    def value(self, name: str, **labels: str) -> float:
        return self.after.value(name, **labels) - self.before.value(name, **labels)


def scrape(root: str, **headers: str) -> Scrape:
    """``GET {root}/metrics``, checked to be Prometheus' text format."""
    answer = httpx.get(root.rstrip('/') + '/metrics', headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers['content-type'].startswith('text/plain; version=0.0.4')
    return Scrape(answer.text)
