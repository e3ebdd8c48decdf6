"""API fields shared by every app: ids that are whole numbers and numbers that are not booleans."""

from __future__ import annotations

from django.db import models
from rest_framework import serializers


class IdField(serializers.PrimaryKeyRelatedField):
    """A row's id: a JSON integer or a string of ASCII digits. A fraction (``1.5``, which the
    database would round to row 1), a boolean or a Unicode digit is refused, not read as an id."""

    def to_internal_value(self, data):
        whole = isinstance(data, int) and not isinstance(data, bool)
        digits = isinstance(data, str) and data.isascii() and data.isdigit()
        if not (whole or digits):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class NumberField(serializers.FloatField):
    """A number: ``true`` is not read as 1.0."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class ModelSerializer(serializers.ModelSerializer):
    """DRF's model serializer with ``IdField`` for every relation it makes and ``NumberField``
    for every float."""

    serializer_related_field = IdField
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping, models.FloatField: NumberField}
