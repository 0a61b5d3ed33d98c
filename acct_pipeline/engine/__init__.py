"""Where the heavy steps run: the embedded DuckDB warehouse (default) or a Spark session.

``config.engine_settings`` reads the choice from the environment; ``resource.EngineResource`` is
the Dagster resource; ``spark`` runs usage rollups, signals and scores on Spark (the ``spark``
extra: ``pip install -e '.[spark]'``, Java 17); ``sql`` transpiles the pipeline's DuckDB SQL.
"""
