"""Forms: one modal screen per case action; each validates with the domain model and
dismisses with the action (or `None`), never sending anything itself."""
