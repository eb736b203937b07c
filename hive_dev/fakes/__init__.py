"""Stand-ins for the language model: a scripted Messages API and a fast fake claude CLI."""
