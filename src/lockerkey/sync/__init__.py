"""Member import and record export backends (CSV now, Google Sheets later)."""
