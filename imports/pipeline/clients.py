"""Finding the clients rows of an order, interaction or response file are about, a chunk at a time.

The matching rule is customers' (customers.matching.ClientIndex, the one customers_upsert_many applies): a handful
of queries per chunk, whatever its size. These files never create clients: a row whose client is unknown (or whose
Atelier id is unknown) is refused, and the message says to import the clients first.
"""

from __future__ import annotations

from collections.abc import Iterable

from customers.matching import ClientIndex, ClientKey, MatchConflict

__all__ = ["ClientKey", "ClientNotFound", "find_clients"]


class ClientNotFound(Exception):
    """No single client answers to the key; the message says why in words a person understands."""


def find_clients(keys: Iterable[ClientKey]) -> dict[ClientKey, int | ClientNotFound]:
    """Each key's client id, or a ClientNotFound saying why there is none (unknown, or ids of different clients)."""
    keys = list(dict.fromkeys(key for key in keys if key))
    if not keys:
        return {}
    index = ClientIndex.load(keys, with_fields=False)
    found: dict[ClientKey, int | ClientNotFound] = {}
    for key in keys:
        if key.public_id and key.public_id not in index.by_public_id:
            found[key] = ClientNotFound(f"No client has the Atelier id {key.public_id}; import the clients first.")
            continue
        try:
            client, _verified = index.match(key)
        except MatchConflict:
            found[key] = ClientNotFound(f"{key.describe()} belong to different clients; merge the clients first.")
            continue
        found[key] = client.pk if client is not None else ClientNotFound(
            f"No client answers to {key.describe()}; import the clients first."
        )
    return found
