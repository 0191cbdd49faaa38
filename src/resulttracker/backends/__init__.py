"""The bundled backends; :func:`resulttracker.open_tracker` picks one by URL."""
