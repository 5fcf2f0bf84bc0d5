# ciie_portal — every command the README names.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test soak lint format check worker beat relay messages compile-messages clean \
	backup restore

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet ".[dev]"
	touch $(STAMP)

## install: create .venv with the runtime and test dependencies, compile translations
install: $(STAMP) compile-messages

## compile-messages: locale/*.po -> .mo (Babel, so that GNU gettext is not needed)
compile-messages: $(STAMP)
	$(BIN)/pybabel compile --domain django --directory locale --statistics

## run: install, migrate, load the demo data and serve http://127.0.0.1:8000/ (embedded mode)
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_load
	$(BIN)/python manage.py runserver 127.0.0.1:8000

## test: the whole suite (PostgreSQL + Redis when DATABASE_URL / CELERY_BROKER_URL are set)
test: install
	CIIE_ALLOW_LOCAL_KEYS=true $(BIN)/pytest --create-db $(PYTEST_ARGS)

## soak: the whole-season property test, long (needs DATABASE_URL on PostgreSQL);
## SEASON_EXAMPLES / SEASON_STEPS set its size, SEASON_REPORT=1 prints how far each example got
SEASON_EXAMPLES ?= 50
SEASON_STEPS ?= 100
soak: install
	CIIE_ALLOW_LOCAL_KEYS=true SEASON_EXAMPLES=$(SEASON_EXAMPLES) SEASON_STEPS=$(SEASON_STEPS) \
		$(BIN)/pytest --create-db tests/test_season.py $(PYTEST_ARGS)

## lint: ruff lint and format check
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## check: Django's system checks and the migrations check
check: install
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

## worker / beat: real Celery processes (need CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/0)
worker: install
	CIIE_ALLOW_LOCAL_KEYS=true $(BIN)/celery -A ciie_portal worker --loglevel=info --concurrency=2 -Q ciie,ciie-batch

beat: install
	CIIE_ALLOW_LOCAL_KEYS=true $(BIN)/celery -A ciie_portal beat --loglevel=info --schedule var/celerybeat-schedule

## relay: publish the outbox and recover notices every few seconds (needs CELERY_BROKER_URL)
relay: install
	CIIE_ALLOW_LOCAL_KEYS=true $(BIN)/python manage.py outbox_relay

## backup: pg_dump of DATABASE_URL + the private media + a manifest, into BACKUP_DIR (var/backups)
backup:
	PYTHON=$(BIN)/python scripts/backup.sh

## restore: BACKUP=var/backups/<time> puts that backup back into DATABASE_URL, then migrates
restore:
	PYTHON=$(BIN)/python BACKUP="$(BACKUP)" scripts/restore.sh

## messages: update locale/*/LC_MESSAGES/django.po from the code (needs GNU gettext)
messages: $(STAMP)
	$(BIN)/python manage.py makemessages --locale zh_Hans --locale en --no-obsolete --ignore '.venv/*' --ignore 'var/*'

clean:
	rm -rf $(VENV) var/staticfiles .pytest_cache .ruff_cache
