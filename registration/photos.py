"""Check a visitor's credential photo (证件照) and re-encode it without metadata.

The photo is printed on the visitor's credential, so it has to be a usable ID photo in the
sense of GB/T 35×45 mm (小二寸) photos:

* a real JPG or PNG of at most 5 MB, and not an image that claims more than 40 megapixels;
* at least 413×531 pixels, which is 35×45 mm printed at 300 dpi (the resolution of the
  credential printer): a smaller image prints blurred;
* the proportion of 35:45 (width:height ≈ 0.7778), give or take 5 %, so that printing it into
  the 35×45 mm box neither stretches nor crops the face;
* a white background, judged on a frame along the top, left and right edges.

The orientation a phone records in the EXIF data is applied before measuring. The result is
always a plain JPEG "photo.jpg" without any EXIF (GPS position, camera, time), ICC profile or
comment: the photo is personal data and only its pixels are needed.

:func:`clean_visitor_photo` raises :class:`~django.core.exceptions.ValidationError` with one of
the codes ``too_large``, ``not_an_image``, ``too_many_pixels``, ``too_small``,
``wrong_proportion`` or ``background``; the checks run in that order, so the user first hears
about the problem that would stop every later check.
"""

from __future__ import annotations

import io

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError

PHOTO_MAX_BYTES = 5 * 1024 * 1024

# Far more than any camera needs for a 413×531 photo, and well under Pillow's own
# decompression-bomb limit (about 89 megapixels gives a warning, twice that an error). A photo
# over it is refused on the size in its header, before its pixels are decoded: a tiny PNG can
# claim 20000×20000 pixels and take gigabytes of memory once loaded.
PHOTO_MAX_PIXELS = 40_000_000

# 35×45 mm at 300 dpi: 35 / 25.4 × 300 = 413.4 and 45 / 25.4 × 300 = 531.5.
PHOTO_MIN_WIDTH, PHOTO_MIN_HEIGHT = 413, 531

# width:height = 35:45, with a tolerance of 5 % of that ratio. The check is done in integers
# (see _has_id_proportion) so that the boundary does not depend on floating-point rounding.
PROPORTION_WIDTH, PROPORTION_HEIGHT = 35, 45
PROPORTION_TOLERANCE_PERCENT = 5

# The background is sampled in bands of 3 % of the width (left and right) and of the height
# (top). The bottom edge is left out, and the side bands stop at two thirds of the height,
# because the shoulders and clothes of a proper head-and-shoulders photo reach the bottom
# corners.
BORDER_FRACTION = 0.03
SIDE_BANDS_HEIGHT_FRACTION = 2 / 3

# A pixel is "white" when it is bright (every channel at least 200) and unsaturated (channels
# at most 30 apart): studio white that the camera renders light grey or slightly warm passes;
# grey, light blue (the other usual ID photo background) and red backgrounds do not.
# At least 90 % of the sampled pixels must be white, which leaves room for hair or a shoulder
# touching the frame and for JPEG noise.
WHITE_MIN_LEVEL = 200
WHITE_MAX_SPREAD = 30
WHITE_MIN_PERCENT = 90

JPEG_QUALITY = 92

# Lookup tables for Image.point(): 255 where the condition holds, 0 elsewhere.
_BRIGHT = [255 if level >= WHITE_MIN_LEVEL else 0 for level in range(256)]
_NEUTRAL = [255 if spread <= WHITE_MAX_SPREAD else 0 for spread in range(256)]

# Only these decoders are tried, so a file in any other format never reaches a Pillow plugin.
_OPEN_FORMATS = ("JPEG", "PNG")
# Phones often save JPEGs with a second, smaller picture (Multi-Picture Format); Pillow's JPEG
# decoder reports those as "MPO", but they are ordinary JPEG files and open as such everywhere.
_ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG"}


def _not_an_image() -> ValidationError:
    return ValidationError(
        _("This is not a JPG or PNG image. Save the photo as JPG or PNG and choose it again."),
        code="not_an_image",
    )


def _too_many_pixels() -> ValidationError:
    return ValidationError(
        _(
            "The photo has too many pixels (at most 40 megapixels): save a smaller copy and "
            "choose it again."
        ),
        code="too_many_pixels",
    )


def _open_photo(upload) -> Image.Image:
    """The decoded, upright photo; ValidationError unless it is a whole, sane JPG or PNG."""
    try:
        upload.seek(0)
        with Image.open(upload, formats=_OPEN_FORMATS) as probe:
            # Only the header has been read so far: refuse formats and sizes before decoding.
            if probe.format not in _ACCEPTED_FORMATS:
                raise _not_an_image()
            width, height = probe.size
            if width * height > PHOTO_MAX_PIXELS:
                raise _too_many_pixels()
            # verify() checks the structure (PNG chunk checksums) without decoding; it leaves
            # the image unusable, hence the second open.
            probe.verify()
        upload.seek(0)
        with Image.open(upload, formats=_OPEN_FORMATS) as image:
            # load() decodes every pixel: a truncated JPEG or PNG fails here.
            image.load()
            # A phone photo is stored sideways with an EXIF orientation tag; measure it the way
            # it is seen.
            return ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow refuses (or, when warnings are errors, warns about) a bomb in open(), before
        # our own check can run.
        raise _too_many_pixels() from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        # Not an image (a PDF renamed .jpg, a script), a truncated or corrupt file, or broken
        # EXIF data.
        raise _not_an_image() from exc


def _flattened_rgb(image: Image.Image) -> Image.Image:
    """The photo in RGB, transparent parts shown on white (as it would be printed)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, "white")
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB")


def _has_id_proportion(width: int, height: int) -> bool:
    """width / height is 35 / 45 within 5 % of that ratio, computed exactly in integers.

    |w/h − 35/45| ≤ 5 % × 35/45  ⇔  |45·w − 35·h| × 100 ≤ 5 × 35·h
    """
    deviation = abs(PROPORTION_HEIGHT * width - PROPORTION_WIDTH * height)
    return deviation * 100 <= PROPORTION_TOLERANCE_PERCENT * PROPORTION_WIDTH * height


def _background_is_white(image: Image.Image) -> bool:
    """At least 90 % of the pixels along the top, left and right edges are white."""
    width, height = image.size
    band_x = max(1, round(width * BORDER_FRACTION))
    band_y = max(1, round(height * BORDER_FRACTION))
    sides_bottom = max(band_y + 1, round(height * SIDE_BANDS_HEIGHT_FRACTION))
    boxes = (
        (0, 0, width, band_y),  # top, full width
        (0, band_y, band_x, sides_bottom),  # left, below the top band
        (width - band_x, band_y, width, sides_bottom),  # right, below the top band
    )
    white = sampled = 0
    for box in boxes:
        region = image.crop(box)
        red, green, blue = region.split()
        lowest = ImageChops.darker(ImageChops.darker(red, green), blue)
        highest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
        spread = ImageChops.subtract(highest, lowest)
        # 255 × 255 / 255 = 255 where the pixel is both bright and neutral, 0 elsewhere.
        is_white = ImageChops.multiply(lowest.point(_BRIGHT), spread.point(_NEUTRAL))
        white += is_white.histogram()[255]
        sampled += region.width * region.height
    return white * 100 >= WHITE_MIN_PERCENT * sampled


# 45 mm at 600 dpi: twice the minimum, enough for any card printer.
MAX_STORED_HEIGHT = 1063


def clean_visitor_photo(upload) -> InMemoryUploadedFile:
    """A usable 35×45 mm ID photo on white, re-encoded as a JPEG without any metadata."""
    if upload.size > PHOTO_MAX_BYTES:
        raise ValidationError(
            _(
                "The photo is larger than 5 MB: save it smaller or at a lower quality and choose "
                "it again."
            ),
            code="too_large",
        )

    photo = _flattened_rgb(_open_photo(upload))
    width, height = photo.size

    if width < PHOTO_MIN_WIDTH or height < PHOTO_MIN_HEIGHT:
        raise ValidationError(
            _(
                "The photo is too small (at least 413×531 pixels): take or scan it again at a "
                "higher resolution."
            ),
            code="too_small",
        )
    if not _has_id_proportion(width, height):
        raise ValidationError(
            _(
                "The photo must have the proportion of a 35×45 mm ID photo (width:height = "
                "35:45): crop it to that shape, head and shoulders in the middle, and choose it "
                "again."
            ),
            code="wrong_proportion",
        )
    if not _background_is_white(photo):
        raise ValidationError(
            _(
                "The photo background is not white: take it again in front of a white wall or "
                "sheet, in even light without shadows, or use a recent ID photo."
            ),
            code="background",
        )

    # convert() and exif_transpose() carry the original's info (EXIF, ICC profile, comment)
    # along, and the JPEG encoder falls back to info["comment"]: drop all of it, and pass no
    # exif=/icc_profile= either, so only the pixels are written.
    if height > MAX_STORED_HEIGHT:
        # A phone photo is ten times what a printed card needs: keep 600 dpi of 45 mm.
        photo = photo.resize(
            (round(width * MAX_STORED_HEIGHT / height), MAX_STORED_HEIGHT), Image.Resampling.LANCZOS
        )
    photo.info = {}
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    size = buffer.tell()
    buffer.seek(0)
    return InMemoryUploadedFile(buffer, "photo", "photo.jpg", "image/jpeg", size, None)
