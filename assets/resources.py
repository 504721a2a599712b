"""The resources: where the config, the data and the warehouse are (every asset), and the Spark
session of the match stage when matching.yaml says `backend: spark`."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_pyspark import LazyPySparkResource
from dagster_pyspark.resources import spark_session_from_config
from pydantic import Field, PrivateAttr

from pipelines.config import ExportsConfig, SourcesConfig, load_exports, load_sources
from pipelines.match.backends.spark import LOCAL_SPARK, private_scratch, use_this_python
from pipelines.privacy.masking import masked_errors
from pipelines.settings import Paths, private_umask
from pipelines.warehouse import connect

# Assets that write the DuckDB file share this pool; the instance limits it to one (dagster.yaml).
WAREHOUSE_POOL = "duckdb_writer"


class CrmcleanResource(dg.ConfigurableResource):
    """Paths of the embedded default come from CRMCLEAN_DATA_DIR / CRMCLEAN_CONFIG_DIR."""

    data_dir: str = ""
    config_dir: str = ""

    @property
    def paths(self) -> Paths:
        env = Paths.from_env()
        return Paths(
            data_dir=Path(self.data_dir).absolute() if self.data_dir else env.data_dir,
            config_dir=Path(self.config_dir).absolute() if self.config_dir else env.config_dir,
        )

    def sources(self) -> SourcesConfig:
        return load_sources(self.paths.sources_file)

    def exports(self) -> ExportsConfig:
        return load_exports(self.paths.exports_file)

    @contextmanager
    def warehouse(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        private_umask()
        with masked_errors():  # an error quoting an address or phone reaches the event log masked
            con = connect(self.paths.warehouse, read_only=read_only)
            try:
                yield con
            finally:
                con.close()


class MatchSparkResource(LazyPySparkResource):
    """The Spark session of the match stage, started on first use only (a DuckDB run never
    starts a JVM) and stopped when the step ends, so no JVM outlives a run.

    The default is local mode on this machine; a team with a cluster sets `spark.master` (and
    executor sizes) in `spark_config`.
    """

    spark_config: dict[str, Any] = Field(default_factory=lambda: dict(LOCAL_SPARK))

    _started: bool = PrivateAttr(default=False)
    _scratch: str | None = PrivateAttr(default=None)

    @property
    def spark_session(self) -> Any:
        if self._spark_session is None:
            from pyspark.sql import SparkSession

            use_this_python()
            # A session this process already runs (a notebook, a test) is used, never stopped.
            self._started = SparkSession.getActiveSession() is None
            config = dict(self.spark_config)
            if self._started and "spark.local.dir" not in config:
                self._scratch = private_scratch()  # shuffle files hold names and addresses
                config["spark.local.dir"] = self._scratch
            self._spark_session = spark_session_from_config(config)
        return self._spark_session

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._spark_session is not None and self._started:
            self._spark_session.stop()
        self._spark_session = None
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def table_schema(table: str) -> dg.TableSchema:
    """The column schema of a warehouse table, for the asset's `dagster/column_schema` metadata
    (shown in the UI), read from the DDL in pipelines/warehouse/schema.py."""
    from pipelines.warehouse.schema import TABLES

    columns = []
    for name, ddl in TABLES[table].items():
        required = "NOT NULL" in ddl or "PRIMARY KEY" in ddl
        typ = ddl.replace("PRIMARY KEY", "").replace("NOT NULL", "").strip()
        columns.append(
            dg.TableColumn(name, typ, constraints=dg.TableColumnConstraints(nullable=not required))
        )
    return dg.TableSchema(columns=columns)
