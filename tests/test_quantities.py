"""Numbers keep their size across languages: known answers for quantities.py."""

import pytest

from assistant.quantities import currencies, parse_number, quantities, same_size


@pytest.mark.parametrize("raw, value", [("14 000", 14000), ("14.000", 14000), ("14,000", 14000), ("14,3", 14.3),
                                        ("14.3", 14.3), ("1.234,5", 1234.5), ("1,234.5", 1234.5), ("3.1", 3.1),
                                        ("2023", 2023), ("0,5", 0.5)])
def test_parse_number(raw, value):
    assert parse_number(raw) == pytest.approx(value)


@pytest.mark.parametrize("text, language, values", [
    ("405 billion", "en", [405e9]), ("405 bilhões", "pt", [405e9]), ("405 milliards", "fr", [405e9]),
    ("14,3 bilhões", "pt", [14.3e9]), ("14.3 billion", "en", [14.3e9]),
    ("49 %", "fr", [49]), ("49%", "en", [49]), ("49 por cento", "pt", [49]),
    ("700 mil", "pt", [700e3]), ("700 milhões", "pt", [700e6]), ("2 mil milhões", "pt", [2e9]),
    ("14 000 millions de dollars", "fr", [14e9]), ("$14 billion", "en", [14e9]), ("$14bn", "en", [14e9]),
    ("Llama 3.1 405B", "en", [3.1, 405e9]), ("US$ 5 a 10 bilhões", "pt", [5e9, 10e9]),
    ("5 à 10 milliards", "fr", [5e9, 10e9]), ("between 5 and 10 billion", "en", [5e9, 10e9]),
    ("10 billions", "fr", [10e12]),  # French long scale
    ("mais de 1 000 funcionários", "pt", [1000]), ("more than 1,000 employees", "en", [1000]),
    ("H100", "en", []), ("em 2023 e 2024", "pt", [2023, 2024]),
])
def test_quantities_with_their_size(text, language, values):
    assert quantities(text, language) == pytest.approx(values)


def test_spelled_out_numbers_count_only_when_asked():
    assert quantities("nove dígitos", "pt") == []
    assert quantities("nove dígitos", "pt", words=True) == [9]
    assert quantities("neuf chiffres et deux", "fr", words=True) == [9, 2]


def test_same_size_is_the_same_number_across_languages():
    (en,), (pt,), (fr,) = quantities("405 billion", "en"), quantities("405 bilhões", "pt"), quantities("405 milliards", "fr")
    assert same_size(en, pt) and same_size(pt, fr)
    assert not same_size(quantities("700 mil", "pt")[0], quantities("700 milhões", "pt")[0])
    assert not same_size(quantities("10 billion", "en")[0], quantities("10 billions", "fr")[0])


@pytest.mark.parametrize("text, expected", [
    ("custar de US$ 5 a 10 bilhões", {"USD"}),
    ("5 to 10 billion dollars", {"USD"}),
    ("entre 5 et 10 milliards d'euros", {"EUR"}),
    ("£ 1,3 bilhão", {"GBP"}),
    ("R$ 3 mil e 10 dólares", {"BRL", "USD"}),
    ("a real change, a free book (un livre), a frank answer", set()),  # words that are also currencies elsewhere
])
def test_currencies_are_named_by_symbol_or_word_in_any_table_language(text, expected):
    assert currencies(text) == expected
