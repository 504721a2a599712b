"""Where the match stage runs: the embedded DuckDB warehouse (the default) or Apache Spark.

`sql.py` holds the SQL both engines run, written once in DuckDB's dialect and transpiled with
SQLGlot; `spark.py` moves a run's records into Spark and its links and clusters back.
"""
