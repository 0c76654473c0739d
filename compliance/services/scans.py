"""Uploaded scans of licences and certificates: a PDF, JPEG or PNG (told by its first bytes, not
its name) of at most settings.COMPLIANCE_SCAN_MAX_BYTES, stored through Django's storage API
under a random name."""

from __future__ import annotations

import uuid
from typing import IO

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

# File signatures ("magic numbers"): PDF 1.7 (ISO 32000-1, 7.5.2), JPEG (JFIF SOI marker),
# PNG (RFC 2083, 3.1).
SIGNATURES = {b"%PDF-": "pdf", b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}


class ScanRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def scan_checked_name(scan: UploadedFile[bytes] | IO[bytes]) -> str:
    """The storage name for an acceptable scan; raises ScanRefused for a wrong type or size."""
    limit: int = settings.COMPLIANCE_SCAN_MAX_BYTES
    size = getattr(scan, "size", None)
    if size is None:
        scan.seek(0, 2)
        size = scan.tell()
    if size > limit:
        raise ScanRefused("scan_too_large", f"The scan is larger than {limit // (1024 * 1024)} MB.")
    if size == 0:
        raise ScanRefused("scan_empty", "The scan is empty.")
    scan.seek(0)
    head = scan.read(8)
    scan.seek(0)
    for signature, extension in SIGNATURES.items():
        if head.startswith(signature):
            return f"{uuid.uuid4().hex}.{extension}"
    raise ScanRefused("scan_type", "A scan must be a PDF, JPEG or PNG file.")
