"""The ``trademaestro`` command."""
