"""screens of the console."""
