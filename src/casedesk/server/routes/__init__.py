"""The routes of the case API, one module per resource."""
