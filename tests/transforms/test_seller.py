"""The seller's profile (seller.yaml): read as written, refused naming the field."""

import pytest

from transforms.reference import ReferenceDataError
from transforms.seller import Seller, parse_seller


def test_only_the_legal_name_is_required():
    assert parse_seller("legal_name: Example Cloud Ltd\n") == Seller("Example Cloud Ltd")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("address: 1 Sample Street\n", "seller.yaml: legal_name: is required"),
        (
            "legal_name: X\niban: GB00\n",
            "seller.yaml: iban: unknown field (allowed: legal_name, address, tax_id, payment_instructions)",
        ),
        ("legal_name: [X]\n", "seller.yaml: legal_name: must be text"),
        (f"legal_name: {'x' * 201}\n", "seller.yaml: legal_name: longer than 200 characters"),
        ('legal_name: "X\\tY"\n', "seller.yaml: legal_name: holds a control character"),
        (
            "- legal_name: X\n",
            "seller.yaml: must be a mapping of legal_name, address, tax_id, payment_instructions",
        ),
        ("legal_name: [\n", "seller.yaml: not valid YAML"),
    ],
)
def test_a_bad_profile_is_refused_naming_the_field(text, message):
    with pytest.raises(ReferenceDataError) as exc:
        parse_seller(text)
    assert str(exc.value).startswith(message)
