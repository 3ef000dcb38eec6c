"""Card and barcode readers."""
