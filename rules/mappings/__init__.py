"""Bundled field mapping pipelines (package data: ecs.yml, none.yml)."""
