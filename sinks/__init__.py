"""logwarden.sinks: everything downstream of logs.ecs and alerts except the rules engine.

The search query language (`query`), the embedded tantivy index (`embedded`,
`tantivy_schema`) and its read side (`search.SearchService`), the index worker
(`index_service`) with its Elasticsearch and OpenSearch bulk backends (`elasticsearch`,
`opensearch`, `es_template`), the metrics feed (`metrics_service`), the hourly archive
(`archive`) and the `search` / `alerts` commands (`cli`). See docs/sinks.md and docs/search.md.
"""
