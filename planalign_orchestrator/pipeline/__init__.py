"""The year loop and the hooks that run around it."""
