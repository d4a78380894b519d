"""An uploaded image: its stored files are named by the hash of their content, so their URLs never change."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id


class MediaItem(Model):
    """One image in the library; `widths` lists the resized copies made (each a file of its own)."""

    __tablename__ = "media_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the stored image
    extension: Mapped[str] = mapped_column(String(5))  # jpg | png | gif | webp, from the content
    original_name: Mapped[str] = mapped_column(String(255), default="")
    alt_text: Mapped[str] = mapped_column(String(500), default="")
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    widths: Mapped[str] = mapped_column(String(100), default="")  # "600,1200": resized copies
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))

    @property
    def file_name(self) -> str:
        """The original's public file name: a short content hash and the type's extension."""
        return f"{self.content_hash[:32]}.{self.extension}"

    def variant_names(self) -> dict[int, str]:
        """Width -> file name of each resized copy."""
        return {
            int(w): f"{self.content_hash[:32]}-w{w}.{self.extension}" for w in self.widths.split(",") if w
        }
