"""Edge cases of the syntax parsers: quantities, image references, references, names, locations."""

from __future__ import annotations

import pytest

from threeport_registry.domain.images import ImageReference, ImageReferenceError, parse_image_reference


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("nginx", ImageReference("", "nginx", "", "")),
        ("library/nginx:1.27", ImageReference("", "library/nginx", "1.27", "")),
        (
            "registry.example.com/ledger/api:1.0.0",
            ImageReference("registry.example.com", "ledger/api", "1.0.0", ""),
        ),
        ("localhost:5000/app", ImageReference("localhost:5000", "app", "", "")),
        ("localhost/app:v1", ImageReference("localhost", "app", "v1", "")),
        ("reg.io:443/a/b/c:latest", ImageReference("reg.io:443", "a/b/c", "latest", "")),
        ("[::1]:5000/app:1", ImageReference("[::1]:5000", "app", "1", "")),
        ("a/my_app__x--y.z:V_1.0-rc", ImageReference("", "a/my_app__x--y.z", "V_1.0-rc", "")),
        ("app@sha256:" + "f" * 64, ImageReference("", "app", "", "sha256:" + "f" * 64)),
        ("r.io/app:1@sha256:" + "0" * 64, ImageReference("r.io", "app", "1", "sha256:" + "0" * 64)),
    ],
)
def test_image_references_parse(text: str, parsed: ImageReference) -> None:
    assert parse_image_reference(text) == parsed
    assert str(parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "UPPER",
        "app:",
        "app:.tag",
        "app:" + "t" * 129,
        "-app",
        "app-",
        "a//b",
        "a/_b",
        "a/b_",
        "app@sha512:" + "a" * 128,
        "app@sha256:" + "A" * 64,
        "app@sha256:" + "a" * 63,
        "reg.io:0/app",
        "reg.io:http/app",
        "reg.io/",
        "a b",
        "reg_x.io/app",
        "a" * 256,
    ],
)
def test_image_references_rejected(text: str) -> None:
    with pytest.raises(ImageReferenceError):
        parse_image_reference(text)
