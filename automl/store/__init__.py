"""DuckDB stores in the workspace: the invoke log (``invokes``: one writer, published Parquet
parts, retention). The review queue and annotations will live here too, in their own file."""
