"""The seller's profile printed on every invoice document: `landing/reference/seller.yaml`.

Optional. When present it is validated like the other reference files (a bad one is refused,
naming the file and field, before any usage is touched):

    legal_name: Example Cloud Ltd           # required
    address: |                              # optional, lines as written
      1 Sample Street
      London EC1A 1AA, United Kingdom
    tax_id: GB123456789                     # optional
    payment_instructions: |                 # optional: how to pay, printed under the amount due
      Bank transfer to IBAN GB00 EXMP 0000 0000 0000 00, reference: the invoice number.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import yaml

from transforms.reference import ReferenceDataError

FILE = "seller.yaml"
# Longest text each field may hold: a document is one printed page.
LONGEST = {"legal_name": 200, "address": 500, "tax_id": 50, "payment_instructions": 1000}


@dataclass(frozen=True)
class Seller:
    legal_name: str
    address: str | None = None
    tax_id: str | None = None
    payment_instructions: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def parse_seller(text: str) -> Seller:
    """The profile in `text` (seller.yaml's content); ReferenceDataError naming the field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ReferenceDataError(f"{FILE}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ReferenceDataError(f"{FILE}: must be a mapping of {', '.join(LONGEST)}")
    unknown = sorted(set(map(str, raw)) - set(LONGEST))
    if unknown:
        raise ReferenceDataError(
            f"{FILE}: {unknown[0]}: unknown field (allowed: {', '.join(LONGEST)})"
        )
    fields = {}
    for name, longest in LONGEST.items():
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise ReferenceDataError(f"{FILE}: {name}: must be text")
        value = str(value).strip()
        if len(value) > longest:
            raise ReferenceDataError(f"{FILE}: {name}: longer than {longest} characters")
        if any(ord(c) < 32 and c != "\n" for c in value):
            raise ReferenceDataError(f"{FILE}: {name}: holds a control character")
        fields[name] = value or None
    if not fields.get("legal_name"):
        raise ReferenceDataError(f"{FILE}: legal_name: is required")
    return Seller(**fields)
