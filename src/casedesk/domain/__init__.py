"""Models, enums, limits and rules shared by the case API server and the console."""
