"""The webhooks service's domain: everything app.py's handlers call into."""
