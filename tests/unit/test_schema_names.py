"""One definition per item: store/schema_names.py (the names the raw stores use) is generated from the
pynamodb models and must equal what they generate now; the template's tables agree with the models."""

from __future__ import annotations

import pytest
from numberguard.domain.templates import Naming, TemplateRef
from numberguard.store.guarded import guarded_set
from numberguard.store.models import ITEM_KINDS
from numberguard.store.schema_names import CounterItem, NumberItem, WabaItem
from numberguard.store.templates import TemplateStore

from numberguard_ops import schema, template


def test_schema_names_is_what_the_models_generate():
    assert schema.TARGET.read_text() == schema.render(), "store/schema_names.py is stale: run `make schema`"


def test_the_check_mode_fails_on_a_stale_module(tmp_path, monkeypatch):
    stale = tmp_path / "schema_names.py"
    stale.write_text(schema.render().replace('"counted_bucket"', '"bucket"'))
    monkeypatch.setattr(schema, "TARGET", stale)
    assert schema.main(["--check"]) == 1
    assert schema.main([]) == 0
    assert schema.main(["--check"]) == 0


def _tables() -> dict[str, dict]:
    return {t["create"]["TableName"]: t for t in template.table_definitions()}


def _keys(key_schema: list[dict]) -> dict[str, str]:
    return {k["AttributeName"]: k["KeyType"] for k in key_schema}


def test_every_model_matches_its_table_in_the_template():
    tables = _tables()
    for name, model in ITEM_KINDS.items():
        suffix = model.Meta.table_name.removeprefix("numberguard-")
        table = next(t for t_name, t in tables.items() if t_name.endswith(suffix))
        spec = table["create"]
        attributes = {a.attr_name: a for a in model.get_attributes().values()}
        model_keys = {a.attr_name: "HASH" if a.is_hash_key else "RANGE"
                      for a in attributes.values() if a.is_hash_key or a.is_range_key}
        assert _keys(spec["KeySchema"]) == model_keys, name
        types = {d["AttributeName"]: d["AttributeType"] for d in spec["AttributeDefinitions"]}
        for index in model._indexes.values():
            declared = next(i for i in spec["GlobalSecondaryIndexes"] if i["IndexName"] == index.Meta.index_name)
            assert _keys(declared["KeySchema"]) == {
                a.attr_name: "HASH" if a.is_hash_key else "RANGE" for a in index.Meta.attributes.values()}, name
        for attr_name, declared_type in types.items():
            if attr_name in attributes:
                assert attributes[attr_name].attr_type == declared_type, (name, attr_name)
        ttl = model._ttl_attribute()
        if ttl is not None:
            assert table["ttl_attribute"] == ttl.attr_name, name


def test_a_facet_write_naming_an_attribute_the_model_lacks_is_refused_before_any_call():
    with pytest.raises(ValueError, match="NumberItem has no attribute qualty, qualty_at"):
        guarded_set(None, "numbers", NumberItem, {"pk": {"S": "1"}}, "qualty", {"qualty": "GREEN"}, (), 1,
                    must_exist=True)
    with pytest.raises(ValueError, match="WabaItem has no attribute flagged_at"):
        guarded_set(None, "numbers", WabaItem, {"pk": {"S": "WABA#1"}}, "ban", {"banned": True}, ("flagged_at",), 1,
                    must_exist=False)


def test_a_template_write_naming_an_attribute_the_model_lacks_is_refused_before_any_call():
    store = TemplateStore(None, "numbers")  # no client: a call would fail otherwise
    naming = Naming("1", TemplateRef("order_update", "en_US"))
    with pytest.raises(ValueError, match="TemplateItem has no attribute qualty"):
        store._write("7", naming, {"qualty": "GREEN"}, "quality_version", 1)
    with pytest.raises(ValueError, match="TemplateItem has no attribute quality_ver"):
        store._write("7", naming, {"quality": "GREEN"}, "quality_ver", 1)


def test_the_people_and_template_items_have_their_models():
    assert {"LinkItem", "TemplateItem", "WabaTemplatesItem"} <= ITEM_KINDS.keys()
    assert "pending_people" in CounterItem.TYPES
