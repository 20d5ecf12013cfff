"""forms of the console."""
