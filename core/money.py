"""How an amount reads on every staff page: grouped thousands, two decimals, the currency after it ("66,050.00 EUR").

One function, so that the client list, the orders, the client page and the advisor's day never show the same amount
two ways ("66050.00" on one page, "66,050.00 EUR" on another).
"""

from __future__ import annotations

from decimal import Decimal


def format_money(amount: Decimal | int | float | None, currency: str = "") -> str:
    """`amount` as staff read it, with its currency code; blank for no amount."""
    if amount is None:
        return ""
    return f"{Decimal(amount):,.2f} {currency}".strip()
