# make demo: install into .venv, index the shared catalog on the embedded engine, search it
#            (text, a photo, a spoken query: hybrid, as the API), then serve the search API
#            and the inspector page at / (Ctrl-C stops it).
# make test: install into .venv, assemble the OpenSearch test node (once, cached in .cache/)
#            and run the test suite; the tests start and stop the node themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_CATALOG ?= $(or $(HYBRID_DEMO_CATALOG),../shared/data/catalog/products.jsonl)
DEMO_INDEX ?= var/demo-index
DEMO_PORT ?= 8000
OPENSEARCH_NODE := .cache/opensearch-2.19.1/.assembled
# a phone photo and a spoken query from the dev set beside the catalog (../shared/data/dev)
# (Golden-Delicious_001 was shown before: its top 5 held potatoes, onions and tomatoes but
# not the Golden Delicious; this Granny Smith photo finds its own product first)
DEMO_PHOTO ?= queries/grocery/val/Fruit/Apple/Granny-Smith/Granny-Smith_001.jpg
DEMO_CLIP ?= spoken/audio/fq_00286.wav

.PHONY: install opensearch-node demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0  # pinned first: the encoders were measured with it; PyPI serves the CUDA build, which runs on CPU
	$(PY) -m pip install -q -e '.[dev]'
	command -v redis-server >/dev/null && command -v docker-compose >/dev/null && [ -x /usr/bin/chromium ] || { apt-get update -qq && apt-get install -y -qq redis-server docker-compose chromium; }  # docker-compose checks docker-compose.yml; chromium runs the inspector's browser tests (never 'playwright install')
	touch $(STAMP)

demo: install
	@catalog="$(DEMO_CATALOG)"; [ -d "$$catalog" ] && catalog="$$catalog/products.jsonl"; \
	export HF_HUB_OFFLINE=1; \
	{ [ -e var/models/alignment/current ] || $(VENV)/bin/hybrid align --catalog "$$catalog" --field-map mappings/catalog-shared.json; } && \
	$(VENV)/bin/hybrid --index $(DEMO_INDEX) index "$$catalog" --field-map mappings/catalog-shared.json && \
	$(VENV)/bin/hybrid --index $(DEMO_INDEX) status && \
	$(VENV)/bin/hybrid --index $(DEMO_INDEX) stats && \
	$(VENV)/bin/hybrid --index $(DEMO_INDEX) search "women black handbags" --size 5 --explain && \
	$(VENV)/bin/hybrid --index $(DEMO_INDEX) search "running shoes" --filter gender=Men --facet colour --facet usage --size 5 && \
	$(VENV)/bin/hybrid --index $(DEMO_INDEX) search "apple" --filter "category=Fruit,Apple" --size 5 --lexical || exit 1; \
	dev="$$(dirname "$$(dirname "$$catalog")")/dev"; \
	photo="$$dev/$(DEMO_PHOTO)"; clip="$$dev/$(DEMO_CLIP)"; \
	if [ -f "$$photo" ]; then $(VENV)/bin/hybrid --index $(DEMO_INDEX) search --image "$$photo" --size 5 || exit 1; \
	else echo "demo: no photo at $$photo, skipping the photo query"; fi; \
	if [ -f "$$clip" ]; then $(VENV)/bin/hybrid --index $(DEMO_INDEX) search --audio "$$clip" --size 5 || exit 1; \
	else echo "demo: no clip at $$clip, skipping the spoken query"; fi; \
	echo "hybrid: the inspector will be at http://127.0.0.1:$(DEMO_PORT)/ (search, explain, compare, judge)" && \
	$(VENV)/bin/hybrid --index $(DEMO_INDEX) serve --port $(DEMO_PORT)

# A real OpenSearch 2.19.1 with k-NN and neural-search, from Maven Central (no Docker).
opensearch-node: $(OPENSEARCH_NODE)

$(OPENSEARCH_NODE): hybrid/testing/opensearch_node.py | $(STAMP)
	command -v java >/dev/null && command -v mvn >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless maven; }
	$(PY) -m hybrid.testing.opensearch_node assemble  # again only if its recipe changed
	touch $@

test: install opensearch-node
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check hybrid tests benchmarks
	$(VENV)/bin/mypy

bench: install
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) benchmarks/engine.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/knn_recall_real.py

clean:
	rm -rf $(VENV) var
