"""The default StorageClass as rhpds.litemaas reads it (plugins/filter/storage.py)."""

from __future__ import annotations

from typing import Any

import pytest

import filterplugins

pytestmark = pytest.mark.unit

F = filterplugins.load("storage")

GA = "storageclass.kubernetes.io/is-default-class"
BETA = "storageclass.beta.kubernetes.io/is-default-class"


def _class(name: Any, annotations: Any = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "annotations": annotations}}


def test_the_first_class_marked_default_by_either_annotation() -> None:
    classes = [_class("gp2"), _class("gp3-csi", {GA: "false"}), _class("beta", {BETA: "True"})]
    assert F.default_storage_class(classes) == "beta"
    classes.append(_class("ga", {GA: "true"}))
    assert F.default_storage_class(classes) == "beta"
    assert F.default_storage_class(classes[3:]) == "ga"


def test_no_default_class_is_an_empty_name() -> None:
    assert F.default_storage_class([]) == ""
    assert F.default_storage_class([_class("gp2", {GA: "yes"}), _class("x", {})]) == ""


@pytest.mark.parametrize(
    "classes",
    [
        None,
        "not a list",
        [None, "junk", 1, {}, {"metadata": None}, {"metadata": {"annotations": "bad"}}],
        [{"metadata": {"annotations": {GA: "true"}}}, _class(None, {GA: "true"})],
    ],
)
def test_malformed_classes_are_skipped(classes: Any) -> None:
    assert F.default_storage_class(classes) == ""


def test_a_malformed_class_does_not_hide_a_default_after_it() -> None:
    assert F.default_storage_class([{"metadata": "bad"}, _class("ok", {GA: True})]) == "ok"


def test_names_stay_literal_text() -> None:
    markup = "{{ lookup('pipe', 'id') }}"
    assert F.default_storage_class([_class(markup, {GA: "true"})]) == markup
