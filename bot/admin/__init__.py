"""In-chat admin mode: command grammar, commands, confirmation flows."""
