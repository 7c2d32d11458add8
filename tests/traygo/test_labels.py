from __future__ import annotations

from pathlib import Path

import pytest

from traygo.errors import ConfigError
from traygo.labels import get_label, load_background, load_labels
from traygo.slug import slugify


def test_shipped_config_has_pizza_and_four_more_canteen_items() -> None:
    labels = load_labels()
    assert {"pizza", "burger", "salad", "hot_dog", "sandwich"} <= set(labels)
    pizza = labels["pizza"]
    assert "pizza" in pizza.positive and "frittata" in pizza.negative
    assert pizza.classes == ("not_pizza", "pizza")
    assert pizza.queries[: len(pizza.positive)] == pizza.positive
    for label in labels.values():
        assert len(label.negative) >= 5


def test_queries_are_unique() -> None:
    for label in load_labels().values():
        assert len(label.queries) == len(set(label.queries))


def test_unknown_label_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown label 'pierogi'.*pizza"):
        get_label("pierogi")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "labels.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[pizza\n", "not valid TOML"),
        ("", "defines no labels"),
        ('[pizza]\npositive = []\nnegative = ["x"]', "positive must be a non-empty list"),
        ('[pizza]\npositive = ["a"]', "negative must be a non-empty list"),
        ('[pizza]\npositive = ["a"]\nnegative = [3]', "is not a string"),
        ('[Pizza]\npositive = ["a"]\nnegative = ["b"]', "lowercase"),
        ('[pizza]\npositive = ["a"]\nnegative = ["b"]\nextra = 1', "unknown keys"),
        ('[pizza]\npositive = ["Hot Dog"]\nnegative = ["hot-dog"]', "both sides"),
        ('[pizza]\npositive = ["!!!"]\nnegative = ["b"]', "no letters or digits"),
    ],
)
def test_bad_configs_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_labels(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_labels(tmp_path / "nope.toml")


def test_config_file_from_the_labels_setting(tmp_path: Path) -> None:
    from traygo.settings import TrainSettings, resolve

    path = write(tmp_path, '[tacos]\npositive = ["taco"]\nnegative = ["burrito"]')
    conf = resolve(TrainSettings, environ={"TRAYGO_LABELS": str(path)})
    assert list(load_labels(conf.labels_file)) == ["tacos"]
    assert "tacos" not in load_labels()  # no path: the shipped labels, whatever the environment


@pytest.mark.parametrize(
    ("text", "slug"),
    [("Pizza Slice", "pizza-slice"), ("  Crème brûlée! ", "creme-brulee"), ("hot_dog", "hot-dog")],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_the_shipped_background_pool_is_other_canteen_food_and_no_label() -> None:
    pool = load_background()
    labels = load_labels()
    assert "background" not in labels  # the pool is not a label
    assert len(pool.queries) >= 20 and len(set(pool.queries)) == len(pool.queries)
    assert {"pasta dish", "rice dish", "vegetable soup", "bread roll"} <= set(pool.queries)
    assert any("tray" in q for q in pool.queries)  # trays and plates seen from above
    words = {w for q in pool.queries for w in slugify(q).split("-")}
    for label in labels.values():  # no label's own dish among "everything else"
        for query in label.positive:
            assert not set(slugify(query).split("-")) <= words, query


def test_a_config_without_a_pool_has_an_empty_one(tmp_path: Path) -> None:
    path = write(tmp_path, '[pizza]\npositive = ["a"]\nnegative = ["b"]')
    assert load_background(path).queries == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[background]\nqueries = []", "queries must be a non-empty list"),
        ('[background]\nqueries = ["soup"]\npositive = ["x"]', "one key, queries"),
        ('[background]\nqueries = ["Pizza"]', "a label's positive query cannot be background"),
        ("[background]\nqueries = [1]", "is not a string"),
    ],
)
def test_bad_pools_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text + '\n[pizza]\npositive = ["pizza"]\nnegative = ["b"]')
    with pytest.raises(ConfigError, match=message) as info:
        load_background(path)
    assert "[background]" in str(info.value) and str(path) in str(info.value)


def test_a_file_with_only_a_pool_defines_no_labels(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="defines no labels"):
        load_labels(write(tmp_path, '[background]\nqueries = ["soup"]'))
