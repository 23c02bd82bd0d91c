"""The composition root: the app factory and the container that wires every domain together."""
