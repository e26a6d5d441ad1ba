"""Model cards: the README front matter, its validation, and Markdown to safe HTML."""
