"""The run pipeline: ``run_recipe`` (runner) loads, embeds, searches, refits, registers
(registration), exports (export) and writes the run's summary (summary)."""
