"""How a client is found from what staff type: the expressions the client table's search columns are built from.

Names are searched through a tsvector column PostgreSQL generates from the first and last name, folded to lower
case without accents, so that "beatrice" finds Béatrice and "al muhairi", "muhairi sara" or "de vill" find the
clients whose names hold those words or word starts, in any order, through a GIN index. Phone numbers are also
indexed backwards, so that the last digits of a number (a partial number, or a local number without its leading
0) find it through a btree prefix match.

Only PostgreSQL's core is used (translate, to_tsvector with the 'simple' configuration, reverse): the embedded
server `make demo` starts has no contrib extensions (unaccent, pg_trgm).
"""

from __future__ import annotations

import re
import unicodedata

from django.contrib.postgres.search import SearchVectorField
from django.db.models import F, Func, TextField, Value
from django.db.models.functions import Concat, Lower, Reverse

# Lower-case accented letters of the Latin alphabets the house's clients write their names in, and the letter each
# is searched as (translate() maps one character to one): the base letter of its Unicode decomposition, or, for
# the few letters that have none, the one named here.
ACCENTED = "àáâãäåāăąçćĉċčďđèéêëēĕėęěĝğġģĥħìíîïĩīĭįıĵķĺļľŀłñńņňòóôõöøōŏőŕŗřśŝşšţťŧùúûüũūŭůűųŵýÿŷźżž"
_UNDECOMPOSED = {"đ": "d", "ħ": "h", "ı": "i", "ŀ": "l", "ł": "l", "ø": "o", "ŧ": "t"}
PLAIN = "".join(_UNDECOMPOSED.get(letter) or unicodedata.normalize("NFD", letter)[0] for letter in ACCENTED)

SEARCH_CONFIG = "simple"
# Characters that mean something in a tsquery; a typed word keeps only the rest.
_TSQUERY_SYNTAX = re.compile(r"[&|!():*<>'\\\"]+")


def folded(expression) -> Func:
    """`expression` in lower case, its accented letters replaced by plain ones (immutable: usable in an index)."""
    return Func(Lower(expression), Value(ACCENTED), Value(PLAIN), function="translate", output_field=TextField())


def name_search_vector() -> Func:
    """The client's names as searchable words; the expression of the generated column Customer.name_search."""
    # `||` (Concat on PostgreSQL) rather than concat_ws(): a generated column needs an immutable expression.
    names = Concat(F("first_name"), Value(" "), F("last_name"), output_field=TextField())
    return Func(folded(names), template=f"to_tsvector('{SEARCH_CONFIG}'::regconfig, %(expressions)s)",
                output_field=SearchVectorField())


def reversed_phone() -> Reverse:
    """The client's phone number backwards; the expression of the index that finds a number by its last digits."""
    return Reverse(F("phone"))


def name_prefix_query(words: list[str]) -> str | None:
    """A tsquery that holds when every word starts a word of the client's names ('sara':* & 'al':*); None when
    no word is left once tsquery syntax is removed."""
    lexemes = []
    for word in words:
        cleaned = _TSQUERY_SYNTAX.sub(" ", word).strip()
        lexemes.extend(f"'{part}':*" for part in cleaned.split() if part)
    return " & ".join(lexemes) or None
