"""Reads of insight: the journey map and the house's figures from the rollups (journey_map, value), the same
figures straight from the raw tables (raw: the independent reference the tests and the bench compare with), who
sees what (scope), and the clients behind each number (client_sets)."""
