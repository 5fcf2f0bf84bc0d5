"""Images the tests make themselves (no binary fixtures in the repository)."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def image_file(name="licence.png", *, size=(800, 600), fmt="PNG", color="white", **save):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt, **save)
    content_type = "image/png" if fmt == "PNG" else "image/jpeg"
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)


def pdf_named_jpg() -> SimpleUploadedFile:
    content = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    return SimpleUploadedFile("licence.jpg", content, content_type="image/jpeg")


def big_noisy_jpeg(min_bytes=3 * 1024 * 1024) -> SimpleUploadedFile:
    """A JPEG over 3 MB (random noise does not compress)."""
    import os

    side = 1400
    while True:
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=100)
        if buffer.tell() >= min_bytes:
            return SimpleUploadedFile("big.jpg", buffer.getvalue(), content_type="image/jpeg")
        side += 400


def decompression_bomb() -> SimpleUploadedFile:
    """A tiny PNG that claims 30000×30000 pixels."""
    buffer = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buffer, format="PNG")
    return SimpleUploadedFile("bomb.png", buffer.getvalue(), content_type="image/png")
