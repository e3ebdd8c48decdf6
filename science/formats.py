"""The image formats Metamer decodes, kept apart from ``science.images`` so that checking an
upload's headers imports no torch."""

FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
"""The only formats Pillow may decode: it picks a decoder by content, not by name, and some
(EPS, PostScript) call out to other programs."""
