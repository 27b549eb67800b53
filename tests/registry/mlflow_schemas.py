"""MLflow tracking database schemas written by hand, for tests that have no MLflow of that version.

``SCHEMA_2_8`` has exactly the tables and columns resolution reads as MLflow's
alembic migrations had created them by revision ``2d6e25af4d3e``, the head
of MLflow 2.3 to 2.8: aliases exist (``3500859a5d39``, 2.3), but not
``model_versions.storage_location`` (``acf3f17fdcc7``, 2.9), ``logged_models``
(``400f98739977``, 3.0) or the ``workspace`` key columns (``1b5f0d9ad7c1``, 3.x).
``LOGGED_MODELS`` is MLflow 3's table, ``SCHEMA_3_REGISTRY`` MLflow 3's registry
tables with ``workspace`` in every key.
"""

from __future__ import annotations

SCHEMA_2_8 = """
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
CREATE TABLE experiments (
    experiment_id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(256) NOT NULL UNIQUE,
    artifact_location VARCHAR(256), lifecycle_stage VARCHAR(32), creation_time BIGINT,
    last_update_time BIGINT);
CREATE TABLE runs (
    run_uuid VARCHAR(32) NOT NULL PRIMARY KEY, name VARCHAR(250), source_type VARCHAR(20),
    source_name VARCHAR(500), entry_point_name VARCHAR(50), user_id VARCHAR(256),
    status VARCHAR(9), start_time BIGINT, end_time BIGINT, deleted_time BIGINT,
    source_version VARCHAR(50), lifecycle_stage VARCHAR(20), artifact_uri VARCHAR(200),
    experiment_id INTEGER REFERENCES experiments (experiment_id));
CREATE TABLE registered_models (
    name VARCHAR(256) NOT NULL PRIMARY KEY, creation_time BIGINT, last_updated_time BIGINT,
    description VARCHAR(5000));
CREATE TABLE model_versions (
    name VARCHAR(256) NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE,
    version INTEGER NOT NULL, creation_time BIGINT, last_updated_time BIGINT,
    description VARCHAR(5000), user_id VARCHAR(256), current_stage VARCHAR(20),
    source VARCHAR(500), run_id VARCHAR(32), status VARCHAR(20), status_message VARCHAR(500),
    run_link VARCHAR(500), PRIMARY KEY (name, version));
CREATE TABLE model_version_tags (
    key VARCHAR(250) NOT NULL, value VARCHAR(5000), name VARCHAR(256) NOT NULL,
    version INTEGER NOT NULL, PRIMARY KEY (key, name, version));
CREATE TABLE registered_model_aliases (
    alias VARCHAR(256) NOT NULL, version INTEGER NOT NULL, name VARCHAR(256) NOT NULL,
    PRIMARY KEY (name, alias));
INSERT INTO alembic_version VALUES ('2d6e25af4d3e');
"""

# MLflow 3's registry tables: workspace is part of every key, storage_location is recorded
SCHEMA_3_REGISTRY = """
CREATE TABLE registered_models (
    workspace VARCHAR(63) NOT NULL DEFAULT 'default', name VARCHAR(256) NOT NULL,
    creation_time BIGINT, last_updated_time BIGINT, description VARCHAR(5000),
    PRIMARY KEY (workspace, name));
CREATE TABLE model_versions (
    workspace VARCHAR(63) NOT NULL DEFAULT 'default', name VARCHAR(256) NOT NULL,
    version INTEGER NOT NULL, creation_time BIGINT, last_updated_time BIGINT,
    description VARCHAR(5000), user_id VARCHAR(256), current_stage VARCHAR(20),
    source VARCHAR(500), storage_location VARCHAR(500), run_id VARCHAR(32), run_link VARCHAR(500),
    status VARCHAR(20), status_message VARCHAR(500), PRIMARY KEY (workspace, name, version));
CREATE TABLE registered_model_aliases (
    workspace VARCHAR(63) NOT NULL DEFAULT 'default', name VARCHAR(256) NOT NULL,
    alias VARCHAR(256) NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (workspace, name, alias));
"""

VERSION_INSERT = (
    "INSERT INTO model_versions (name, version, creation_time, last_updated_time, current_stage,"
    " source, run_id, status, status_message) VALUES (?, ?, 1, 1, ?, ?, ?, ?, ?)"
)

LOGGED_MODELS = """
CREATE TABLE logged_models (
    model_id VARCHAR(36) NOT NULL PRIMARY KEY, experiment_id INTEGER NOT NULL,
    name VARCHAR(500) NOT NULL, artifact_location VARCHAR(1000) NOT NULL,
    creation_timestamp_ms BIGINT NOT NULL, last_updated_timestamp_ms BIGINT NOT NULL,
    status INTEGER NOT NULL, lifecycle_stage VARCHAR(32), model_type VARCHAR(500),
    source_run_id VARCHAR(32), status_message VARCHAR(1000));
"""
