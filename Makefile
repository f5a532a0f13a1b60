# Two commands on a fresh machine:  make run  (start the app)  and  make test  (run every test).
# `make help` lists every target.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: help run test screenshots bench load train evaluate figures clean cluster cluster-stop cluster-status load-cluster

help:
	@echo "make run            start the app on http://localhost:8501 (PORT=8600 for another port)"
	@echo "make test           run every test (needs Debian's chromium, postgresql and haproxy)"
	@echo "make screenshots    refresh the README's pictures of the pages from the browser tests"
	@echo "make bench          speed and memory: one drawing by stage, cold start, first visits, the browser round trip"
	@echo "make load           simulated users on one app server (CLIENTS=10 DURATION=300)"
	@echo "make train          train the model into assets/ (about 2 h on 2 CPU cores)"
	@echo "make evaluate       accuracy and honesty on MNIST's test digits"
	@echo "make figures        write the README's and docs/model.md's tables from assets/report.json"
	@echo "make cluster        PostgreSQL, REPLICAS=2 app servers and HAProxy on http://127.0.0.1:8500"
	@echo "make cluster-status what the cluster runs"
	@echo "make cluster-stop   stop the cluster"
	@echo "make load-cluster   the simulated users through the running cluster's proxy"
	@echo "make clean          remove the virtual environment and caches"

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-test.txt
	@touch $@

# MALLOC_ARENA_MAX=2: glibc gives each thread that allocates at once its own heap (up to 8
# per core), each keeping its high-water mark; Streamlit runs every session on its own
# thread. With 2, 10 simulated users: peak 940 MB instead of 1,150, flat after a minute.
run: $(VENV)/.installed
	@$(PY) -c "import socket, sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', $(PORT))) == 0)" || \
		{ echo "Port $(PORT) is already in use: stop what runs there, or start on another port with: make run PORT=8502"; exit 1; }
	MALLOC_ARENA_MAX=2 $(PY) -m mnist_app.ui.serve --server.port $(PORT) --browser.gatherUsageStats false

test: $(VENV)/.installed-test
	@$(PY) -m pytest -q

# The browser tests leave a picture of every page in test-artifacts/; keep those for the README.
SCREENSHOTS := page_draw page_photo page_your_digits page_model
screenshots: $(VENV)/.installed-test
	@$(PY) -m pytest -q tests/test_browser_draw.py tests/test_browser_photo.py tests/test_browser_feedback.py
	@mkdir -p assets/screenshots
	cp $(SCREENSHOTS:%=test-artifacts/%.png) assets/screenshots/

bench: $(VENV)/.installed-test
	@$(PY) -m tests.benchmark

# Simulated users on one app server (websocket clients, as browsers); CLIENTS=10 DURATION=300.
CLIENTS ?= 10
DURATION ?= 300
load: $(VENV)/.installed-test
	@$(PY) -m tests.load --clients $(CLIENTS) --duration $(DURATION)

train: $(VENV)/.installed
	$(PY) train_model.py

evaluate: $(VENV)/.installed
	$(PY) -m mnist_app evaluate

figures: $(VENV)/.installed
	$(PY) -m mnist_app figures

clean:
	rm -rf $(VENV) .pytest_cache

# PostgreSQL, REPLICAS app servers and HAProxy (sticky, websockets) on loopback:
# open http://127.0.0.1:8500. Needs Debian's postgresql and haproxy packages.
REPLICAS ?= 2
cluster: $(VENV)/.installed
	@$(PY) -m mnist_app.cluster start --replicas $(REPLICAS)

cluster-stop: $(VENV)/.installed
	@$(PY) -m mnist_app.cluster stop

cluster-status: $(VENV)/.installed
	@$(PY) -m mnist_app.cluster status

# The simulated users through the running cluster's proxy, answers checked in PostgreSQL.
load-cluster: $(VENV)/.installed-test
	@$(PY) -m tests.load --clients $(CLIENTS) --duration $(DURATION) --url http://127.0.0.1:8500 \
		--db "$$($(PY) -m mnist_app.cluster database-url)"
