"""The business rules of the case API: who may do what, and what each action changes."""
