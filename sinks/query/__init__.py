"""The search query language: one AST, two compilers (embedded tantivy, Elasticsearch DSL).

`parse(text)` returns an `ast` node or raises `QueryError(message, position)`;
`to_tantivy.compile` and `to_es.compile` turn that node into a backend query.
"""
from .ast import And, Cidr, Exists, Match, MatchAll, Node, Not, Or, Range, Regexp, Wildcard
from .grammar import QueryError, parse

__all__ = ["And", "Cidr", "Exists", "Match", "MatchAll", "Node", "Not", "Or", "QueryError", "Range", "Regexp", "Wildcard", "parse"]
