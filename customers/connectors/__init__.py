"""Connectors to outside systems that bring client master data (the house CRM). See core.connectors."""
