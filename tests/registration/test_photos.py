"""The visitor's credential photo (证件照): a 35×45 mm ID photo on white, stripped of metadata.

Every image is drawn here with Pillow; nothing binary is committed.
"""

import io
import os
import warnings

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.utils import translation
from PIL import ExifTags, Image, ImageCms, ImageDraw, ImageFile

from registration.photos import PHOTO_MAX_BYTES, clean_visitor_photo

WHITE = (255, 255, 255)
HEAD = (128, 128, 128)
SHOULDERS = (40, 60, 110)


# ---------------------------------------------------------------------------------------------
# Drawing photos
# ---------------------------------------------------------------------------------------------


def portrait(size=(413, 531), *, background=WHITE, mode="RGB") -> Image.Image:
    """A head (grey ellipse) and shoulders (blue rectangle, reaching the bottom corners)."""
    width, height = size
    image = Image.new(mode, size, background)
    draw = ImageDraw.Draw(image)
    opaque = (lambda rgb: (*rgb, 255)) if mode == "RGBA" else (lambda rgb: rgb)
    draw.ellipse((width * 0.3, height * 0.12, width * 0.7, height * 0.62), fill=opaque(HEAD))
    draw.rectangle((0, height * 0.72, width, height), fill=opaque(SHOULDERS))
    return image


def as_upload(image: Image.Image, name="photo.jpg", fmt="JPEG", **save) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    content_type = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}.get(
        fmt, "application/octet-stream"
    )
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)


def photo_upload(size=(413, 531), *, background=WHITE, **save) -> SimpleUploadedFile:
    return as_upload(portrait(size, background=background), quality=95, **save)


def bomb(size) -> SimpleUploadedFile:
    """A small PNG (all zeros compress to almost nothing) that claims `size` pixels."""
    buffer = io.BytesIO()
    Image.new("1", size).save(buffer, format="PNG")
    assert buffer.tell() < 1024 * 1024
    return SimpleUploadedFile("photo.png", buffer.getvalue(), content_type="image/png")


def refusal(upload) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        clean_visitor_photo(upload)
    return caught.value


def in_english(error: ValidationError) -> str:
    with translation.override("en"):
        return " ".join(str(message) for message in error.messages)


def reopened(result: InMemoryUploadedFile) -> Image.Image:
    result.seek(0)
    image = Image.open(io.BytesIO(result.read()))
    image.load()
    return image


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any pixel data is decoded."""

    def load(self):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


# ---------------------------------------------------------------------------------------------
# A proper photo
# ---------------------------------------------------------------------------------------------


def test_it_accepts_a_proper_photo_and_returns_a_jpeg_of_the_same_size():
    result = clean_visitor_photo(photo_upload())

    assert isinstance(result, InMemoryUploadedFile)
    assert result.name == "photo.jpg"
    assert result.content_type == "image/jpeg"
    assert result.size == len(result.read())
    image = reopened(result)
    assert image.format == "JPEG"
    assert image.size == (413, 531)
    assert image.mode == "RGB"
    assert "exif" not in image.info
    assert not image.getexif()


def test_it_accepts_a_png_and_returns_a_jpeg():
    result = clean_visitor_photo(as_upload(portrait((700, 900)), "photo.png", "PNG"))

    image = reopened(result)
    assert (image.format, image.size) == ("JPEG", (700, 900))


def test_it_accepts_a_phone_jpeg_with_a_second_picture_mpo():
    big, small = portrait((700, 900)), portrait((140, 180))
    upload = as_upload(big, fmt="MPO", save_all=True, append_images=[small])
    assert Image.open(io.BytesIO(upload.read())).format == "MPO"

    image = reopened(clean_visitor_photo(upload))
    assert (image.format, image.size) == ("JPEG", (700, 900))


def test_it_accepts_an_off_white_studio_background():
    result = clean_visitor_photo(photo_upload(background=(236, 236, 228)))

    assert reopened(result).size == (413, 531)


def test_it_shows_a_transparent_background_on_white():
    transparent = portrait((413, 531), background=(0, 0, 0, 0), mode="RGBA")

    image = reopened(clean_visitor_photo(as_upload(transparent, "photo.png", "PNG")))

    assert all(channel > 245 for channel in image.getpixel((5, 5)))


def test_it_drops_gps_and_camera_data_and_turns_a_sideways_phone_photo_upright():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone maker"
    exif[ExifTags.Base.Model] = "Phone 15"
    exif[ExifTags.Base.DateTime] = "2025:11:05 09:30:00"
    # Orientation 6: the stored pixels must be turned 90° clockwise to be seen upright.
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (31.0, 11.0, 30.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (121.0, 18.0, 45.0),
    }
    # What the phone stored: the upright photo turned 90° counter-clockwise, 531 wide.
    stored = portrait((413, 531)).transpose(Image.Transpose.ROTATE_90)
    upload = as_upload(stored, quality=95, exif=exif)
    original = Image.open(io.BytesIO(upload.read()))
    assert original.size == (531, 413)
    assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input really has a position
    upload.seek(0)

    image = reopened(clean_visitor_photo(upload))

    assert image.size == (413, 531)
    assert image.getpixel((206, 5)) == pytest.approx(WHITE, abs=8)  # background on top
    assert image.getpixel((206, 525)) == pytest.approx(SHOULDERS, abs=8)  # shoulders below
    assert "exif" not in image.info
    assert not image.getexif()
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)


def test_it_drops_the_colour_profile_and_comments():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    upload = photo_upload(
        icc_profile=srgb, comment=b"Zhang San, passport E12345678", dpi=(300, 300)
    )
    assert "icc_profile" in Image.open(io.BytesIO(upload.read())).info
    upload.seek(0)

    image = reopened(clean_visitor_photo(upload))

    for key in ("exif", "icc_profile", "comment", "dpi", "xmp"):
        assert key not in image.info, key
    assert b"Zhang San" not in clean_visitor_photo(photo_upload(comment=b"Zhang San")).read()


# ---------------------------------------------------------------------------------------------
# Size in bytes and in pixels
# ---------------------------------------------------------------------------------------------


def test_it_refuses_a_file_over_5_mb_before_opening_it(monkeypatch):
    side = (1750, 2250)
    while True:
        noise = Image.frombytes("RGB", side, os.urandom(side[0] * side[1] * 3))
        upload = as_upload(noise, "big.jpg", quality=100)
        if upload.size > PHOTO_MAX_BYTES:
            break
        side = (side[0] + 350, side[1] + 450)

    def no_open(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Image, "open", no_open)
    error = refusal(upload)

    assert error.code == "too_large"
    assert "5 MB" in in_english(error)


def test_it_refuses_the_too_small_photo_and_says_the_size_it_needs():
    error = refusal(photo_upload((300, 386)))

    assert error.code == "too_small"
    assert "413×531" in in_english(error)


@pytest.mark.parametrize("size", [(412, 531), (413, 530)])
def test_it_refuses_a_photo_one_pixel_short(size):
    assert refusal(photo_upload(size)).code == "too_small"


def test_it_refuses_a_png_that_claims_too_many_pixels_for_pillow(no_decoding):
    """20000×20000 is beyond Pillow's own limit: it refuses the header in open()."""
    error = refusal(bomb((20000, 20000)))

    assert error.code == "too_many_pixels"
    assert "40 megapixels" in in_english(error)


def test_it_refuses_a_png_over_40_megapixels_without_decoding_it(no_decoding):
    """7000×7000 (49 Mpx) is under Pillow's limits: our own cap stops it."""
    assert refusal(bomb((7000, 7000))).code == "too_many_pixels"


def test_it_refuses_a_png_pillow_only_warns_about(no_decoding):
    """10000×10000 (100 Mpx): Pillow warns, and an error is raised whether or not warnings
    are errors."""
    with pytest.warns(Image.DecompressionBombWarning):
        assert refusal(bomb((10000, 10000))).code == "too_many_pixels"
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        assert refusal(bomb((10000, 10000))).code == "too_many_pixels"


# ---------------------------------------------------------------------------------------------
# Not a JPG or PNG
# ---------------------------------------------------------------------------------------------


def _not_an_image(upload):
    error = refusal(upload)
    assert error.code == "not_an_image"
    assert in_english(error).startswith("This is not a JPG or PNG image. Save the photo as JPG")


def test_it_refuses_a_pdf_renamed_jpg():
    content = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    _not_an_image(SimpleUploadedFile("photo.jpg", content, content_type="image/jpeg"))


def test_it_refuses_a_script_renamed_jpg():
    content = b"<script>alert(document.cookie)</script>\n"
    _not_an_image(SimpleUploadedFile("photo.jpg", content, content_type="image/jpeg"))


def test_it_refuses_a_gif_even_when_it_is_called_jpg():
    gif = as_upload(portrait().convert("P"), "photo.jpg", "GIF")
    _not_an_image(gif)


def test_it_refuses_a_truncated_jpeg():
    whole = photo_upload((700, 900)).read()
    truncated = SimpleUploadedFile("photo.jpg", whole[: len(whole) // 2], "image/jpeg")
    _not_an_image(truncated)


def test_it_refuses_a_png_with_a_broken_checksum():
    whole = bytearray(as_upload(portrait(), "photo.png", "PNG").read())
    idat = whole.index(b"IDAT")
    whole[idat + 20] ^= 0xFF  # one byte of the compressed pixels changed: the CRC fails
    _not_an_image(SimpleUploadedFile("photo.png", bytes(whole), "image/png"))


# ---------------------------------------------------------------------------------------------
# Proportion 35:45
# ---------------------------------------------------------------------------------------------


def test_it_refuses_the_wrong_proportion_and_names_35_45():
    error = refusal(photo_upload((600, 531)))

    assert error.code == "wrong_proportion"
    assert "35:45" in in_english(error)


# For a height of 900, 35:45 is a width of 700; 5 % of the ratio is 35 pixels either side.
@pytest.mark.parametrize("width", [665, 700, 735])
def test_it_accepts_a_proportion_within_5_percent(width):
    assert reopened(clean_visitor_photo(photo_upload((width, 900)))).size == (width, 900)


@pytest.mark.parametrize("width", [664, 736])
def test_it_refuses_a_proportion_just_outside_5_percent(width):
    assert refusal(photo_upload((width, 900))).code == "wrong_proportion"


# ---------------------------------------------------------------------------------------------
# White background
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "background",
    [
        pytest.param((90, 90, 90), id="dark-grey"),
        pytest.param((180, 210, 240), id="light-blue"),
        pytest.param((67, 142, 219), id="ID-photo-blue"),
        pytest.param((200, 30, 40), id="ID-photo-red"),
        pytest.param((190, 190, 190), id="mid-grey"),
    ],
)
def test_it_refuses_a_background_that_is_not_white(background):
    error = refusal(photo_upload(background=background))

    assert error.code == "background"
    assert in_english(error).startswith(
        "The photo background is not white: take it again in front of a white wall"
    )


def test_it_judges_the_top_edge_too():
    image = portrait((700, 900))
    ImageDraw.Draw(image).rectangle((0, 0, 700, 30), fill=(90, 90, 90))  # a dark band on top

    assert refusal(as_upload(image)).code == "background"


def test_it_accepts_hair_touching_the_top_edge():
    image = portrait((700, 900))
    ImageDraw.Draw(image).rectangle((300, 0, 400, 120), fill=(20, 20, 20))

    assert reopened(clean_visitor_photo(as_upload(image))).size == (700, 900)


# ---------------------------------------------------------------------------------------------
# The order of the checks
# ---------------------------------------------------------------------------------------------


def test_it_reports_the_size_before_the_proportion_and_the_background():
    assert refusal(photo_upload((300, 600), background=(90, 90, 90))).code == "too_small"


def test_it_reports_the_proportion_before_the_background():
    assert refusal(photo_upload((600, 531), background=(90, 90, 90))).code == "wrong_proportion"
