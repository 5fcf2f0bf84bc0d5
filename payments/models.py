# Models arrive with their features; the app is installed so that its place in the
# dependency chain is fixed from the start.
