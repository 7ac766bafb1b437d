"""Per kind of legacy file: how a row is cleaned (shared by the row-by-row resources and the set-based pipeline)."""
