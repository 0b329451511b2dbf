"""Resource ids and the names derived from them."""

from __future__ import annotations

import re

from threeport_runtime.errors import FieldViolation, InvalidArgument

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def check_id(field: str, value: str) -> None:
    if not DNS_LABEL.match(value):
        raise InvalidArgument.for_fields(
            [
                FieldViolation(
                    field,
                    "must be a DNS-1123 label: lowercase letters, digits and '-', "
                    "at most 63 characters, starting with a letter",
                )
            ]
        )


def last_segment(name: str) -> str:
    return name.rsplit("/", 1)[-1]
