"""Fixtures of the small dashboard site (:mod:`tests.dashboard_site`) on a fresh store each
test: the store is filled once per test module and copied for every test.

A test module imports the ones it uses (``from tests.site_store import app, database,
template``) and lists them in ``__all__``, so that pytest finds them there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dashboard.app import create_app
from tests.dashboard_site import copy_store, fill_store, site_config


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site's store with one alert per camera, made once per test module."""
    path = tmp_path_factory.mktemp("site") / "site.db"
    fill_store(path, alerts_per_camera=1)
    return path


@pytest.fixture
def database(template: Path, tmp_path: Path) -> Path:
    return copy_store(template, tmp_path)


@pytest.fixture
def app(database: Path) -> FastAPI:
    return create_app(site_config(), database)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client
