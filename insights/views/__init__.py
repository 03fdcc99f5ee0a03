"""Server-rendered pages that combine several apps: one module per page."""
