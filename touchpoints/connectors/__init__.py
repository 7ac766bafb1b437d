"""Connectors to outside systems that bring sales and visits (a boutique's POS). See core.connectors."""
