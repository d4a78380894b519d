"""Images made in memory for the media-library tests, and a media directory per test."""

from io import BytesIO

import pytest
from PIL import Image

EXIF_ORIENTATION = 0x0112
EXIF_MAKE = 0x010F
EXIF_GPS = 0x8825


def photo(width: int = 1600, height: int = 900, fmt: str = "JPEG", with_exif: bool = True) -> bytes:
    """A picture as a phone saves it: camera make, a GPS block and an orientation tag in its EXIF."""
    image = Image.new("RGB", (width, height), (30, 120, 200))
    for x in range(0, width, 50):  # some detail, so resizing has work to do
        image.paste((250, 200, 40), (x, 0, x + 10, height))
    out = BytesIO()
    extra = {}
    if with_exif:
        exif = Image.Exif()
        exif[EXIF_MAKE] = "PhoneCam"
        exif[EXIF_ORIENTATION] = 1
        exif.get_ifd(EXIF_GPS)[2] = (52.0, 31.0, 12.0)  # latitude
        extra["exif"] = exif.tobytes()
    image.save(out, fmt, **extra)
    return out.getvalue()


@pytest.fixture
def media_dir(app, tmp_path):
    """Store this test's images in its own directory."""
    app.config["MEDIA_DIR"] = str(tmp_path / "media")
    return tmp_path / "media"
