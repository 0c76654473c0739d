"""Uploaded photos (refund and complaint evidence, menu photos): what the bytes are decides,
never the file's name or the browser's declared type."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from PIL import Image

PHOTO_MAX_BYTES = 5 * 1024 * 1024
# What Pillow finds in the bytes -> the extension the photo is stored with.
PHOTO_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def photo_extension_or_none(photo: UploadedFile[bytes]) -> str | None:
    """The photo's extension if it is a JPEG, PNG or WebP image of at most PHOTO_MAX_BYTES that
    Pillow can verify; None otherwise (the caller refuses it in its own terms). Leaves the file
    at its start."""
    if photo.size is None or photo.size > PHOTO_MAX_BYTES:
        return None
    try:
        photo.seek(0)
        with Image.open(photo) as image:
            found = image.format
            image.verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    finally:
        photo.seek(0)
    return PHOTO_FORMATS.get(found or "")
