"""The media library: images uploaded by staff, checked by content, resized, served under content-hash
names."""
