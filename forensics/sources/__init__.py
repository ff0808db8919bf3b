"""Source families. Each module defines ``SOURCES``; ``registry`` discovers them."""
