"""Bank statements in the admin: upload, map the columns, import, and the matching queue."""
