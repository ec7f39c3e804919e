"""The embedded local stack (`make run`): moto for AWS, the Chalice app on loopback."""
