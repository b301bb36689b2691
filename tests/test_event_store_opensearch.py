"""The event-store conformance suite on OpenSearch's UBI indices, on a real node."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from event_store_conformance import EventStoreConformance

from hybrid.search.events_opensearch import OpenSearchEventStore

pytestmark = pytest.mark.integration


class TestOpenSearchEventStore(EventStoreConformance):
    @pytest.fixture
    def event_store(self, opensearch_client: Any,
                    opensearch_index_name: Callable[[], str]) -> OpenSearchEventStore:
        return OpenSearchEventStore(opensearch_client, prefix=f"{opensearch_index_name()}-")
