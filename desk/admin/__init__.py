from desk.admin import customer  # noqa: F401  (registers the client admin)
