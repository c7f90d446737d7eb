"""Small reusable widgets of the console, one a file."""
